// SPDX-License-Identifier: Apache-2.0
// LiveView: the operator page's live data (docs/ui.md#live-data) as Server-Sent Events. Once
// an interval it samples every run into its RunHistory, whether anyone watches or not, so a
// page opened late still draws the run from its start (the last 15 minutes of it); then
// each stream gets one event, rendered once and written to every subscriber:
//
//   GET /ui/events            `event: runs`, the server and every run (ListTests entries,
//                             with the last interval's start rate), each interval.
//   GET /ui/events?run_id=X   `event: snapshot` first (the run as QueryTest shows it, its
//                             ops' types and labels, and every point of its history), then
//                             `event: delta` each interval (the run again, and the new
//                             point; without its two summaries' logs when they did not
//                             change). Each event's `id:` is its
//                             last point's; a client that reconnects with Last-Event-ID gets
//                             one delta with every point it missed (a snapshot when they are
//                             no longer held). When the run is discarded: `event: end`, and
//                             the stream closes.
//
// A subscriber that does not read is not buffered for without end: its connection closes
// once Connection::kMaxUnsentEvents bytes wait for it (Connection::Push), so a stalled browser never grows the
// daemon's memory.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/run_history.h"
#include "ops/base/clock.h"
#include "ops/run_registry.h"

namespace testrund::daemon {

// The end of a stream a LiveView writes to (a Connection).
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Queues an event's bytes.
  virtual void Push(std::string_view event) = 0;
  // The stream is over: send what is queued, then close. The view forgets the sink first.
  virtual void End() = 0;
};

// `event: <name>\nid: <id>\ndata: <data>\n\n` (no id line when `id` is 0).
std::string FormatEvent(std::string_view name, uint64_t id, std::string_view data);

class LiveView {
 public:
  static constexpr ops::MonoNs kInterval = ops::kNsPerSecond;

  // The server block of the runs stream, as JSON (GetServerInfo's figures).
  using ServerJson = std::function<std::string()>;

  // `registry` and `clock` are borrowed and must outlive the view.
  LiveView(ops::RunRegistry& registry, ops::Clock& clock, ServerJson server,
           ops::MonoNs interval = kInterval);
  ~LiveView();
  LiveView(const LiveView&) = delete;
  LiveView& operator=(const LiveView&) = delete;

  // Starts a stream to `sink` and sends its first event at once: the runs list when
  // `run_id` is empty, else that run. False: the run is unknown (nothing was sent).
  bool Subscribe(EventSink& sink, std::string_view run_id, std::optional<uint64_t> last_event_id);
  // Whether the registry holds run `run_id`.
  bool Knows(std::string_view run_id);
  // Forgets `sink` (its connection closed). Safe for a sink that is not subscribed.
  void Unsubscribe(EventSink& sink);

  size_t subscribers() const;

 private:
  struct Watched {
    RunHistory history;
    std::vector<EventSink*> sinks;
    uint64_t sent_id = 0;   // the last point sent to every sink
    // The logs every sink has (nullopt: send them with the next delta).
    std::optional<ops::LogsVersion> logs_sent;
    double start_rate = 0;  // instances started per second in the last interval
  };

  void OnTick();
  // Samples every run into its history and returns the runs' summaries; ends the streams
  // of runs that are gone.
  std::vector<ops::RunSnapshot> SampleRuns();
  std::vector<ops::RunSnapshot> CurrentRuns();
  void SendRunDeltas();
  // {"run": <QueryTest object>, "ops": [...]?, "points": [...]}; nullopt when the run is
  // gone. With `logs_sent`: the object lacks first_call_summary and first_fail_summary
  // when the logs are those of *logs_sent, which is then set to the logs' version. With
  // `with_ops`: "ops", each op's type and label (a stream's first event).
  std::optional<std::string> RunData(std::string_view run_id,
                                     const std::vector<const IntervalPoint*>& points,
                                     std::optional<ops::LogsVersion>* logs_sent = nullptr,
                                     bool with_ops = false);
  // {"server": {...}, "runs": [ListTests entry + percent_complete? + start_rate, ...]}.
  std::string RunsListData(const std::vector<ops::RunSnapshot>& runs);

  ops::RunRegistry& registry_;
  ops::Clock& clock_;
  ServerJson server_;
  ops::MonoNs interval_;
  std::unique_ptr<ops::Timer> timer_;
  std::map<std::string, Watched, std::less<>> runs_;  // every run, watched or not
  std::vector<EventSink*> list_sinks_;
  uint64_t list_event_id_ = 0;
};

}  // namespace testrund::daemon
