#pragma once
// Where a browser reaches a site and its applications (IIS Manager's Browse): from the site's
// http and https bindings, "http://127.0.0.1:8080/" (an address of "*" is this machine's
// loopback, a binding with a host name gives that name: "https://www.example.com/").
#include <QString>
#include <QStringList>
#include <map>

class QMenu;

namespace lido::config {
class Config;
class ConfigElement;
}

// The site's root URL for each of its bindings; path: an application's ("/php").
QStringList siteUrls(const lido::config::ConfigElement* site, const QString& path = "/");
// Each application pool's application URLs, in the order of the sites and their applications.
std::map<QString, QStringList> poolUrls(const lido::config::Config& config);

// Opens a URL in the desktop's browser (QDesktopServices), and the menu entries for it: one
// "Browse URL" each (IIS Manager's Browse *:8080 (http)).
void browse(const QString& url);
void addBrowseActions(QMenu* menu, const QStringList& urls);
