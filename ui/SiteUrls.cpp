#include "SiteUrls.h"

#include "config/Config.h"
#include "config/Values.h"

#include <QDesktopServices>
#include <QMenu>
#include <QUrl>

using namespace lido::config;

QStringList siteUrls(const ConfigElement* site, const QString& path)
{
    QStringList urls;
    const ConfigElement* bindings = site ? site->child("bindings") : nullptr;
    if (!bindings)
        return urls;
    QString tail = path.startsWith('/') ? path : "/" + path;
    if (!tail.endsWith('/'))
        tail += '/';
    for (const ConfigElement* b : bindings->childrenNamed("binding")) {
        QString scheme = QString::fromStdString(toLower(b->get("protocol")));
        auto info = parseBindingInfo(b->get("bindingInformation"));
        if ((scheme != "http" && scheme != "https") || !info)
            continue;
        QString host = !info->host.empty() ? QString::fromStdString(info->host)
                       : info->ip == "*"   ? QString("127.0.0.1")
                                           : QString::fromStdString(info->ip); // IPv6 keeps its brackets
        bool usual = info->port == (scheme == "http" ? 80 : 443);
        QString url = scheme + "://" + host + (usual ? QString() : ":" + QString::number(info->port)) + tail;
        if (!urls.contains(url))
            urls << url;
    }
    return urls;
}

std::map<QString, QStringList> poolUrls(const Config& config)
{
    std::map<QString, QStringList> byPool;
    for (const ConfigElement* site : config.sites())
        for (const ConfigElement* app : site->childrenNamed("application")) {
            std::string pool = app->get("applicationPool");
            if (pool.empty())
                if (const ConfigElement* defaults = site->child("applicationDefaults"))
                    pool = defaults->get("applicationPool");
            QStringList& urls = byPool[QString::fromStdString(pool)];
            for (const QString& url : siteUrls(site, QString::fromStdString(app->get("path"))))
                if (!urls.contains(url))
                    urls << url;
        }
    return byPool;
}

void browse(const QString& url) { QDesktopServices::openUrl(QUrl(url)); }

void addBrowseActions(QMenu* menu, const QStringList& urls)
{
    for (const QString& url : urls) {
        QAction* a = menu->addAction(QObject::tr("Browse %1").arg(url), menu, [url] { browse(url); });
        a->setObjectName("browse");
        a->setData(url);
    }
}
