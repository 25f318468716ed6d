#pragma once
// The status listener's two pages, as pure functions of a snapshot: /status (JSON shaped like
// php-fpm's status page, one object per pool, plus sites and CGI) and /metrics (Prometheus text).
#include "engine/Snapshot.h"

#include <string>

namespace lido::engine {

std::string statusJson(const Snapshot& snapshot, double uptimeSeconds);
std::string prometheusMetrics(const Snapshot& snapshot);

} // namespace lido::engine
