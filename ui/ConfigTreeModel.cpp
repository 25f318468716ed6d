#include "ConfigTreeModel.h"
#include "Health.h"

#include "config/Schema.h"

#include <QApplication>
#include <QStyle>

using lido::config::ConfigElement;
using Severity = lido::config::Diagnostic::Severity;

ConfigTreeModel::ConfigTreeModel(QObject* parent) : QAbstractItemModel(parent) {}

void ConfigTreeModel::setConfig(std::shared_ptr<const lido::config::Config> config)
{
    beginResetModel();
    config_ = std::move(config);
    places_.clear();
    worst_.clear();
    if (config_) {
        std::vector<const ConfigElement*> stack{&config_->root()};
        while (!stack.empty()) {
            const ConfigElement* e = stack.back();
            stack.pop_back();
            for (size_t i = 0; i < e->children.size(); ++i) {
                places_[&e->children[i]] = Place{e, static_cast<int>(i)};
                stack.push_back(&e->children[i]);
            }
        }
        for (const auto& d : config_->diagnostics()) {
            std::string path = d.path.substr(0, d.path.find("/@"));
            auto [it, fresh] = worst_.emplace(path, d.severity);
            if (!fresh && static_cast<int>(d.severity) < static_cast<int>(it->second))
                it->second = d.severity;
        }
    }
    endResetModel();
}

const ConfigElement* ConfigTreeModel::element(const QModelIndex& index) const
{
    if (!index.isValid())
        return config_ ? &config_->root() : nullptr;
    return static_cast<const ConfigElement*>(index.internalPointer());
}

QModelIndex ConfigTreeModel::index(int row, int column, const QModelIndex& parent) const
{
    if (!config_ || column < 0 || column >= columnCount() || row < 0)
        return {};
    const ConfigElement* p = element(parent);
    if (!p || row >= static_cast<int>(p->children.size()))
        return {};
    return createIndex(row, column, const_cast<ConfigElement*>(&p->children[static_cast<size_t>(row)]));
}

QModelIndex ConfigTreeModel::parent(const QModelIndex& child) const
{
    if (!child.isValid())
        return {};
    auto it = places_.find(element(child));
    if (it == places_.end() || it->second.parent == &config_->root())
        return {};
    auto up = places_.find(it->second.parent);
    return createIndex(up->second.row, 0, const_cast<ConfigElement*>(it->second.parent));
}

int ConfigTreeModel::rowCount(const QModelIndex& parent) const
{
    if (!config_ || parent.column() > 0)
        return 0;
    const ConfigElement* p = element(parent);
    return p ? static_cast<int>(p->children.size()) : 0;
}

int ConfigTreeModel::columnCount(const QModelIndex&) const { return 2; }

QString ConfigTreeModel::label(const ConfigElement& e)
{
    auto q = [](const std::string& s) { return QString::fromStdString(s); };
    std::string path = e.spec ? e.spec->path : std::string();
    if (path == "system.applicationHost/applicationPools/add")
        return QObject::tr("Pool %1").arg(q(e.get("name")));
    if (path == "system.applicationHost/sites/site")
        return QObject::tr("Site %1").arg(q(e.get("name")));
    if (path == "system.applicationHost/sites/site/application")
        return QObject::tr("Application %1").arg(q(e.get("path")));
    if (path == "system.applicationHost/sites/site/application/virtualDirectory")
        return QObject::tr("Virtual directory %1 → %2").arg(q(e.get("path")), q(e.get("physicalPath")));
    if (path == "system.applicationHost/sites/site/bindings/binding")
        return QObject::tr("Binding %1/%2").arg(q(e.get("protocol")), q(e.get("bindingInformation")));
    if (path == "system.webServer/fastCgi/application")
        return QObject::tr("FastCGI %1 %2").arg(q(e.get("fullPath")), q(e.get("arguments"))).trimmed();
    if (path == "system.webServer/handlers/add")
        return QObject::tr("Handler %1 (%2)").arg(q(e.get("name")), q(e.get("path")));
    if (path == "location")
        return e.get("path").empty() ? QObject::tr("Location (the whole server)") : QObject::tr("Location %1").arg(q(e.get("path")));
    if (path == "system.webServer/rewrite/rules/rule" || path == "system.webServer/rewrite/globalRules/rule")
        return QObject::tr("Rule %1").arg(q(e.get("name")));
    auto slash = e.path.rfind('/');
    return q(slash == std::string::npos ? e.path : e.path.substr(slash + 1));
}

QVariant ConfigTreeModel::data(const QModelIndex& index, int role) const
{
    const ConfigElement* e = index.isValid() ? element(index) : nullptr;
    if (!e)
        return {};
    if (role == Qt::DisplayRole) {
        if (index.column() == 0)
            return label(*e);
        return e->line;
    }
    if (role == Qt::ToolTipRole)
        return QString::fromStdString(e->path) + (e->spec ? "\n" + QString::fromStdString(e->spec->help) : tr("\nNot known to Lido; kept unchanged"));
    if (role == Qt::DecorationRole && index.column() == 0) {
        auto it = worst_.find(e->path);
        if (it == worst_.end())
            return {};
        switch (it->second) {
        case Severity::Error: return styleIcon(QStyle::SP_MessageBoxCritical);
        case Severity::Warning: return styleIcon(QStyle::SP_MessageBoxWarning);
        case Severity::Ignored: return styleIcon(QStyle::SP_MessageBoxInformation);
        }
    }
    if (role == Qt::ForegroundRole && !e->spec)
        return QApplication::palette().color(QPalette::Disabled, QPalette::Text);
    return {};
}

QVariant ConfigTreeModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    return section == 0 ? tr("Element") : tr("Line");
}

QModelIndex ConfigTreeModel::indexOfPath(const QString& path) const
{
    std::string p = path.toStdString();
    for (const auto& [e, place] : places_)
        if (e->path == p)
            return createIndex(place.row, 0, const_cast<ConfigElement*>(e));
    return {};
}
