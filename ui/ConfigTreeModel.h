#pragma once
// The configuration's element tree for a QTreeView: one row per element, labelled the way an
// admin names things ("Pool php", "Site Sample"), with an icon when the validator has something
// to say about the element.
#include "config/Config.h"

#include <QAbstractItemModel>
#include <memory>
#include <unordered_map>

class ConfigTreeModel : public QAbstractItemModel {
    Q_OBJECT
public:
    explicit ConfigTreeModel(QObject* parent = nullptr);

    void setConfig(std::shared_ptr<const lido::config::Config> config);
    std::shared_ptr<const lido::config::Config> config() const { return config_; }
    const lido::config::ConfigElement* element(const QModelIndex& index) const;
    QModelIndex indexOfPath(const QString& path) const;

    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

    static QString label(const lido::config::ConfigElement& e);

private:
    struct Place {
        const lido::config::ConfigElement* parent;
        int row;
    };
    std::shared_ptr<const lido::config::Config> config_;
    std::unordered_map<const lido::config::ConfigElement*, Place> places_;
    std::unordered_map<std::string, lido::config::Diagnostic::Severity> worst_; // by element path
};
