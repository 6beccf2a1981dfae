// SPDX-License-Identifier: Apache-2.0
// RunSeries: a run_id's one Run or its repetitions (see run_series.h).
#include "ops/run_series.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "ops/stats/saved_result.h"

namespace testrund::ops {

RunSeries::RunSeries(RunDefinition first, RunEnvironment env, DefinitionSource next,
                     Hooks hooks, uint32_t restarts)
    : env_(std::move(env)),
      next_definition_(std::move(next)),
      hooks_(std::move(hooks)),
      plan_(first.repeat),
      restarts_(restarts) {
  anchor_ = first.start_at.value_or(0);  // from "start" without start_at: set by Start()
  free_replaced_ = env_.clock->NewTimer([this] { replaced_.reset(); });
  current_ = std::make_unique<Run>(std::move(first), EnvironmentForRun());
  current_->set_restarts(restarts_);
  if (plan_) current_->set_repetition(1, plan_->count);
}

RunSeries::RunSeries(ArchivedRun archived, Clock& clock)
    : plan_(archived.plan), restarts_(0), ended_(true) {
  env_.clock = &clock;
  history_ = RepetitionHistory::FromState(archived.state.history, archived.state.history_older);
  repetition_ = archived.state.repetition;
  next_number_ = archived.state.next_number;
  anchor_ = archived.state.anchor;
  archived_ = std::move(archived);
}

RunSeries::~RunSeries() = default;

Status RunSeries::NotRunning(std::string_view wanted) const {
  return Status::Error(fmt::format("run \"{}\" is {}, not {}", archived_->run_id,
                                   RunStatusName(archived_->status), wanted));
}

RunEnvironment RunSeries::EnvironmentForRun() {
  RunEnvironment env = env_;
  env.on_completed = [this](const Run& run) { OnRunEnded(run); };
  return env;
}

MonoNs RunSeries::MonoAt(double wall_seconds) const {
  return env_.clock->Now() +
         static_cast<MonoNs>((wall_seconds - WallSeconds()) * kNsPerSecond);
}

void RunSeries::ContinueFrom(const SeriesState& state) {
  history_ = RepetitionHistory::FromState(state.history, state.history_older);
  repetition_ = state.repetition;
  next_number_ = state.next_number;
  anchor_ = state.anchor;
  if (plan_) current_->set_repetition(repetition_, plan_->count);
}

void RunSeries::Start() {
  if (anchor_ == 0) anchor_ = WallSeconds();
  current_->Start();
  ArmCadence();
}

bool RunSeries::Cancel(std::string_view reason) {
  if (ended_) return false;
  cancelling_ = true;
  // Ending the repetition ends the series (OnRunEnded); one that had ended alone cannot be
  // current outside its own callback, but the series ends all the same.
  if (!current_->Cancel(reason)) End();
  cancelling_ = false;
  return true;
}

void RunSeries::OnRunEnded(const Run& run) {
  // Read before the hooks: writing the results file (with its fsyncs) takes time that must
  // not lengthen `interval`.
  double ended_at = WallSeconds();
  // A repetition cancelled before its start never ran: it is not in the history.
  if (plan_ && run.began()) {
    rapidjson::Document scratch;
    history_.Add(SummarizeRepetition(repetition_, run.Snapshot(0, scratch.GetAllocator())));
    if (hooks_.on_repetition) hooks_.on_repetition(run);
  }
  if (cancelling_ || !plan_) {
    End();
    return;
  }
  std::optional<double> start = NextStart(ended_at);
  if (!start) {
    End();
    return;
  }
  StartNext(*start);
}

std::optional<double> RunSeries::NextStart(double ended_at) {
  if (plan_->from == RepeatPlan::From::kEnd) {
    if (!plan_->Planned(next_number_)) return std::nullopt;
    return ended_at + plan_->interval;
  }
  // The cadence's starts that came while the repetition ran (the timer may not have fired
  // yet for the last of them) are skipped.
  SkipOlderThanKept(ended_at);
  while (plan_->Planned(next_number_) &&
         plan_->CadenceStart(anchor_, next_number_) <= ended_at) {
    RecordSkipped(next_number_++);
  }
  if (!plan_->Planned(next_number_)) return std::nullopt;
  return plan_->CadenceStart(anchor_, next_number_);
}

void RunSeries::StartNext(double start_at) {
  std::string problem;
  std::optional<RunDefinition> def = next_definition_(start_at, &problem);
  if (!def) {
    End(fmt::format("Repetition {} could not start: its definition no longer validates: {}",
                    next_number_, problem));
    return;
  }
  // This runs inside the ending Run's callback: it is freed on the next loop turn.
  replaced_ = std::move(current_);
  free_replaced_->ArmAt(env_.clock->Now());
  current_ = std::make_unique<Run>(std::move(*def), EnvironmentForRun());
  repetition_ = next_number_++;
  current_->set_restarts(restarts_);
  current_->set_repetition(repetition_, plan_->count);
  current_->Start();
  ArmCadence();
}

void RunSeries::End(std::optional<std::string> failure) {
  ended_ = true;
  if (failure) failure_ = std::move(*failure);
  if (cadence_) cadence_->Cancel();
  if (hooks_.on_ended) hooks_.on_ended(*this);
}

void RunSeries::ArmCadence() {
  if (!plan_ || plan_->from != RepeatPlan::From::kStart || ended_) return;
  if (!plan_->Planned(next_number_)) {
    // The plan is used up: the timer may still be armed for the start of the repetition
    // just made, and must not fire while that one runs (it would skip one past `count`).
    if (cadence_) cadence_->Cancel();
    return;
  }
  if (!cadence_) cadence_ = env_.clock->NewTimer([this] { OnCadence(); });
  cadence_->ArmAt(MonoAt(plan_->CadenceStart(anchor_, next_number_)));
}

void RunSeries::OnCadence() {
  if (ended_ || !current_->began() || current_->completed()) return;
  // The next start came while this repetition still runs (paused or not): it is skipped.
  RecordSkipped(next_number_++);
  ArmCadence();
}

void RunSeries::SkipOlderThanKept(double ended_at) {
  // A repetition held far past a short cadence (paused for a day at 0.1 s) missed many
  // starts: those the history would drop at once are only counted, not made one by one.
  double slots = std::floor((ended_at - anchor_) / plan_->interval) + 1;
  if (slots < static_cast<double>(next_number_)) return;
  auto last = static_cast<uint64_t>(std::min(slots, 1e18));
  if (!plan_->unbounded()) last = std::min(last, plan_->count);
  if (last < next_number_) return;
  uint64_t missed = last - next_number_ + 1;
  if (missed <= RepetitionHistory::kKeptRepetitions) return;
  uint64_t dropped = missed - RepetitionHistory::kKeptRepetitions;
  history_.AddDropped(dropped);
  next_number_ += dropped;
}

void RunSeries::RecordSkipped(uint64_t repetition) {
  RepetitionSummary skipped;
  skipped.repetition = repetition;
  skipped.status = RepetitionStatus::kSkipped;
  skipped.status_reason = fmt::format("Repetition {} had not ended at its start.",
                                      repetition_);
  skipped.start = WallFromSeconds(plan_->CadenceStart(anchor_, repetition));
  skipped.end = skipped.start;
  history_.Add(std::move(skipped));
}

RunSnapshot RunSeries::ArchivedSnapshot() const {
  RunSnapshot s;
  const rapidjson::Document& result = *archived_->result;
  s.run_id = archived_->run_id;
  s.status = archived_->status;
  s.completed = true;
  auto text = [&result](const char* name) -> std::string {
    auto it = result.FindMember(name);
    return it != result.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
  };
  s.status_reason = archived_->status_reason.empty() ? text("status_reason")
                                                     : archived_->status_reason;
  s.time_now = env_.clock->WallNow();
  s.counts = CountsInResult(result);
  s.time_start = WallInResult(result, "time_start");
  s.time_finish = WallInResult(result, "time_finish");
  s.tags = TagsInResult(result);
  s.stored_result = archived_->result;
  // A repeating run's history is the series' own: it has the repetition the restart found
  // interrupted, which the saved object (of that repetition) does not.
  auto repetitions = result.FindMember("repetitions");
  if (repetitions != result.MemberEnd() && repetitions->value.IsUint64()) {
    RepeatView repeat;
    repeat.repetition = repetition_;
    repeat.repetitions = repetitions->value.GetUint64();
    repeat.history.assign(history_.kept().begin(), history_.kept().end());
    repeat.history_older = history_.older();
    s.repeat = std::move(repeat);
  }
  return s;
}

SeriesState RunSeries::State() const {
  SeriesState state;
  state.repetition = repetition_;
  state.next_number = next_number_;
  state.anchor = anchor_;
  state.history.assign(history_.kept().begin(), history_.kept().end());
  state.history_older = history_.older();
  state.ended = ended_;
  state.failure = failure_;
  if (archived_) return state;
  state.began = current_->began();
  state.paused = current_->status() == RunStatus::kPaused;
  if (!state.began) {
    rapidjson::Document scratch;
    RunSnapshot s = current_->Snapshot(0, scratch.GetAllocator());
    if (s.next_start_at) state.start = ToSeconds(*s.next_start_at);
  }
  return state;
}

RunSnapshot RunSeries::Snapshot(unsigned parts, rapidjson::Document::AllocatorType& alloc) const {
  if (archived_) return ArchivedSnapshot();
  RunSnapshot s = current_->Snapshot(parts, alloc);
  if (!failure_.empty()) {
    s.status = RunStatus::kFailed;
    s.status_reason = failure_;
  }
  if (!plan_) return s;
  s.repeat->history.assign(history_.kept().begin(), history_.kept().end());
  s.repeat->history_older = history_.older();
  bool cadence_ahead = plan_->from == RepeatPlan::From::kStart && plan_->Planned(next_number_);
  if (!ended_ && !s.next_start_at && cadence_ahead) {
    s.next_start_at = WallFromSeconds(plan_->CadenceStart(anchor_, next_number_));
  }
  if (!plan_->unbounded()) {
    // Repetitions done, plus the part of the one running.
    double done = static_cast<double>(history_.total());
    if (!current_->completed() && current_->began()) {
      done += s.percent_complete.value_or(0) / 100;
    }
    s.percent_complete = std::min(100.0, 100 * done / static_cast<double>(plan_->count));
  }
  return s;
}

}  // namespace testrund::ops
