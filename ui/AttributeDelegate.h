#pragma once
// Editors for the attribute grid, chosen by the schema: a list for enumerations and booleans, a
// line that checks every keystroke with the schema's own message for the rest.
#include <QStyledItemDelegate>

class AttributeModel;

class AttributeDelegate : public QStyledItemDelegate {
    Q_OBJECT
public:
    AttributeDelegate(AttributeModel* model, QObject* parent = nullptr);
    QWidget* createEditor(QWidget* parent, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
    void setEditorData(QWidget* editor, const QModelIndex& index) const override;
    void setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const override;

signals:
    // As the user types: the schema's message for the value so far (empty: fine).
    void problem(const QString& attribute, const QString& message) const;

private:
    AttributeModel* model_;
};
