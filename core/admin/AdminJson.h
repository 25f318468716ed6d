#pragma once
// The admin channel's JSON shapes: snapshots and events to JSON text and back (the console's
// remote client rebuilds the same values the in-process engine hands out).
#include "engine/Snapshot.h"
#include "engine/Tracing.h"
#include "log/EventLog.h"
#include "util/Result.h"

#include <string>
#include <string_view>
#include <vector>

namespace lido::admin {

std::string snapshotJson(const engine::Snapshot& snapshot);
Result<engine::Snapshot> parseSnapshot(std::string_view json);
std::string eventJson(const log::Event& event);
Result<log::Event> parseEvent(std::string_view json);
// The running requests (op "requests") and the traces' summaries (op "traces"), as JSON arrays.
std::string requestsJson(const std::vector<log::RunningRequest>& requests);
Result<std::vector<log::RunningRequest>> parseRequests(std::string_view json);
std::string traceSummariesJson(const std::vector<engine::TraceSummary>& traces);
Result<std::vector<engine::TraceSummary>> parseTraceSummaries(std::string_view json);

} // namespace lido::admin
