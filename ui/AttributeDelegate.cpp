#include "AttributeDelegate.h"

#include "AttributeModel.h"
#include "config/Schema.h"

#include <QComboBox>
#include <QLineEdit>

using lido::config::AttrType;

AttributeDelegate::AttributeDelegate(AttributeModel* model, QObject* parent) : QStyledItemDelegate(parent), model_(model) {}

QWidget* AttributeDelegate::createEditor(QWidget* parent, const QStyleOptionViewItem& option, const QModelIndex& index) const
{
    const lido::config::AttributeSpec* spec = model_->spec(index.row());
    if (spec && (spec->type == AttrType::Bool || !spec->enumValues.empty())) {
        auto* box = new QComboBox(parent);
        box->setObjectName("attributeChoice");
        if (spec->type == AttrType::Bool)
            box->addItems({"true", "false"});
        for (const std::string& v : spec->enumValues)
            box->addItem(QString::fromStdString(v));
        return box;
    }
    auto* line = new QLineEdit(parent);
    line->setObjectName("attributeEditor");
    QString name = model_->data(model_->index(index.row(), AttributeModel::Name), Qt::DisplayRole).toString();
    connect(line, &QLineEdit::textChanged, this, [this, line, spec, name](const QString& text) {
        QString message = spec ? QString::fromStdString(spec->check(text.toStdString())) : QString();
        line->setStyleSheet(message.isEmpty() ? QString() : QStringLiteral("QLineEdit { background: #ffd0d0; }"));
        line->setToolTip(message);
        emit problem(name, message);
    });
    (void)option;
    return line;
}

void AttributeDelegate::setEditorData(QWidget* editor, const QModelIndex& index) const
{
    QString value = index.data(Qt::EditRole).toString();
    if (auto* box = qobject_cast<QComboBox*>(editor)) {
        int at = box->findText(value, Qt::MatchFixedString);
        box->setCurrentIndex(at >= 0 ? at : 0);
        return;
    }
    if (auto* line = qobject_cast<QLineEdit*>(editor))
        line->setText(value);
}

void AttributeDelegate::setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const
{
    if (auto* box = qobject_cast<QComboBox*>(editor))
        model->setData(index, box->currentText(), Qt::EditRole);
    else if (auto* line = qobject_cast<QLineEdit*>(editor))
        model->setData(index, line->text(), Qt::EditRole);
}
