#pragma once
// The attributes of one element as IIS's "Advanced Settings" grid shows them: every attribute the
// schema knows (with its default) plus any unknown ones written in the file.
#include "config/Config.h"

#include <QAbstractTableModel>
#include <memory>

class AttributeModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Name, Value, Default, Type, ColumnCount };
    explicit AttributeModel(QObject* parent = nullptr);

    void setElement(std::shared_ptr<const lido::config::Config> config, const lido::config::ConfigElement* element);
    QString help(int row) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    struct Row {
        QString name, value, defaultValue, type, help, problem;
        bool written = false;
        bool inert = false; // Windows-only: kept, no effect
    };
    std::shared_ptr<const lido::config::Config> config_;
    std::vector<Row> rows_;
};
