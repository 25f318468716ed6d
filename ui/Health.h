#pragma once
// One server's health as the tray, the Connections dock and the Servers overview show it, from a
// snapshot: green when every pool and site serves, amber when something is stopped on purpose, red
// when a pool was stopped by rapid-fail protection or a site cannot bind.
#include "engine/Snapshot.h"

#include <QIcon>
#include <QStyle>
#include <QString>
#include <QStringList>
#include <map>

enum class Health { Healthy, Degraded, Failed };

struct PoolState {
    bool running = true;
    bool rapidFail = false;
    QString reason; // why it is stopped
};

struct ServerHealth {
    Health health = Health::Healthy;
    int sites = 0, sitesServing = 0, sitesStopped = 0, sitesFailed = 0;
    int pools = 0, poolsStarted = 0, poolsStopped = 0, poolsFailed = 0;
    double requestsPerSecond = 0;
    QStringList failedPools; // stopped by rapid-fail protection
    std::map<QString, PoolState> poolStates; // every application pool (CGI and FastCGI alike)
    // "2 of 2 sites serving, 3 of 4 pools started (1 stopped by rapid-fail protection: php), 12 req/s"
    QString summary() const;
};

ServerHealth healthOf(const lido::engine::Snapshot& snapshot);

// The style's standard icon, read once: standardIcon() decodes its PNG on every call, and the
// live pages ask for one per row and second.
QIcon styleIcon(QStyle::StandardPixmap which);

// The tray's icons: the installed theme's (lido-healthy, -degraded, -failed) or drawn alike.
QIcon healthIcon(Health h);
