#include "EffectiveView.h"

#include "config/Config.h"
#include "config/Effective.h"
#include "config/Schema.h"

#include <QHeaderView>
#include <QLabel>
#include <QTreeWidget>
#include <QVBoxLayout>

using namespace lido::config;

EffectiveView::EffectiveView(QWidget* parent) : QWidget(parent), title_(new QLabel), tree_(new QTreeWidget)
{
    setObjectName("effectiveView");
    tree_->setObjectName("effectiveTree");
    tree_->setColumnCount(3);
    tree_->setHeaderLabels({tr("Setting"), tr("Value"), tr("From")});
    tree_->header()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    tree_->setUniformRowHeights(true);
    title_->setWordWrap(true);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(title_);
    layout->addWidget(tree_, 1);
}

namespace {

void addElement(const EffectiveSettings& s, const ConfigElement& e, QTreeWidgetItem* parent, QTreeWidget* tree)
{
    auto from = [&](int layer) { return layer < 0 ? QObject::tr("default") : QString::fromStdString(s.layers[static_cast<size_t>(layer)].label); };
    // An item of a collection shows its key ("add name=PHP"), a container its name.
    QString label = QString::fromStdString(e.name);
    if (e.spec && e.spec->collectionItem)
        for (const auto* k : e.spec->keys())
            if (const std::string* v = e.find(k->name))
                label += QStringLiteral(" %1=%2").arg(QString::fromStdString(k->name), QString::fromStdString(*v));
    auto* item = parent ? new QTreeWidgetItem(parent) : new QTreeWidgetItem(tree);
    item->setText(0, label);
    item->setText(2, from(s.layerOf(e)));
    item->setToolTip(0, QString::fromStdString(e.path));
    for (const auto& [name, value] : e.attributes) {
        auto* a = new QTreeWidgetItem(item);
        a->setText(0, "@" + QString::fromStdString(name));
        a->setText(1, QString::fromStdString(value));
        int layer = s.layerOf(e, name);
        a->setText(2, from(layer));
        if (layer > 0) { // not the server's: set below it
            QFont bold = a->font(2);
            bold.setBold(true);
            a->setFont(2, bold);
        }
    }
    for (const ConfigElement& c : e.children)
        addElement(s, c, item, tree);
}

} // namespace

void EffectiveView::showFor(const std::shared_ptr<const Config>& config, const ConfigElement* element, const ConfigElement* site)
{
    tree_->clear();
    site_.clear();
    url_ = "/";
    if (!config)
        return;
    if (element && element->name == "location") {
        std::string path = element->get("path");
        site_ = path.substr(0, path.find('/'));
        url_ = path.find('/') == std::string::npos ? "/" : path.substr(path.find('/'));
    } else if (site) {
        site_ = site->get("name");
        if (element && element->name == "application")
            url_ = element->get("path");
        else if (element && element->name == "virtualDirectory") // its application's path is in its tree path
            url_ = "/";
    }
    EffectiveSettings s = effectiveSettings(*config, site_, url_);
    QString where = site_.empty() ? tr("the server (every site without settings of its own)")
                                  : tr("site %1, %2").arg(QString::fromStdString(site_), QString::fromStdString(url_));
    QStringList layers;
    for (const auto& l : s.layers)
        layers << QString::fromStdString(l.label);
    title_->setText(tr("<b>Effective settings for %1</b><br>Inherited in this order: %2. Bold: set below the server.")
                        .arg(where.toHtmlEscaped(), layers.join(QStringLiteral(" → ")).toHtmlEscaped()));
    for (const ConfigElement& section : s.webServer.children)
        addElement(s, section, nullptr, tree_);
    tree_->expandToDepth(1);
    tree_->resizeColumnToContents(1);
}
