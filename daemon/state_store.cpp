// SPDX-License-Identifier: Apache-2.0
// state_dir files: opening the folder, saving, removing, and reading them back with the
// untrustworthy ones moved aside (see state_store.h).
#include "daemon/state_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <rapidjson/error/en.h>

#include "daemon/atomic_file.h"
#include "ops/base/problem.h"
#include "ops/run_definition.h"

namespace testrund::daemon {
namespace {

constexpr std::string_view kSuffix = ".json";
// Created and removed by Open; a dot-file, so LoadAll skips one a crash left behind.
constexpr std::string_view kProbeName = ".write-probe";

std::string ErrnoText(int error) { return std::strerror(error); }

Status CheckRunId(std::string_view run_id) {
  if (ops::ValidRunId(run_id)) return Status::Ok();
  return Status::Error(fmt::format("{} is not a valid run_id", ops::QuoteText(run_id)));
}

// mkdir that accepts an existing directory (and only a directory).
bool MakeDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), 0750) == 0) return true;
  if (errno != EEXIST) return false;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  if (S_ISDIR(st.st_mode)) return true;
  errno = ENOTDIR;
  return false;
}

// Reads the regular file `path` whole, or says why it is not a state file's text. Opened
// without blocking and without following a symlink: a FIFO or a link planted in the folder
// must neither hang the start-up nor lead it elsewhere.
Result<std::string> ReadRegularFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ELOOP) return Status::Error("not a regular file (a symbolic link)");
    return Status::Error(fmt::format("cannot open: {}", ErrnoText(errno)));
  }
  std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { ::close(*f); });
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::Error(fmt::format("cannot stat: {}", ErrnoText(errno)));
  if (!S_ISREG(st.st_mode)) return Status::Error("not a regular file");
  if (static_cast<uint64_t>(st.st_size) > StateStore::kMaxFileBytes) {
    return Status::Error("larger than 64 MiB");
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t have = 0;
  // Read until the end even if the file grew since fstat, up to the limit.
  for (;;) {
    if (have == text.size()) {
      if (text.size() > StateStore::kMaxFileBytes) return Status::Error("larger than 64 MiB");
      text.resize(text.size() + 4096);
    }
    ssize_t n = ::read(fd, text.data() + have, text.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Error(fmt::format("cannot read: {}", ErrnoText(errno)));
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  text.resize(have);
  return text;
}

// Parses `text` as the state file of `run_id`, or says why it is not one.
Result<rapidjson::Document> ParseState(std::string_view text, std::string_view run_id) {
  if (text.empty()) return Status::Error("empty");
  rapidjson::Document doc;
  // Iterative: a corrupt file of deep nesting must not exhaust the stack. Full precision:
  // numbers come back as they were written.
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseFullPrecisionFlag |
            rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    std::string_view what = rapidjson::GetParseError_En(doc.GetParseError());
    if (what.ends_with('.')) what.remove_suffix(1);
    return Status::Error(fmt::format("not JSON: {} at offset {}", what, doc.GetErrorOffset()));
  }
  if (!doc.IsObject()) return Status::Error("not a JSON object");
  // Const iterators: clang rejects == between non-const rapidjson iterators under C++20.
  const rapidjson::Value& object = doc;
  auto format = object.FindMember("format");
  if (format == object.MemberEnd()) return Status::Error("has no \"format\"");
  if (!format->value.IsInt() || format->value.GetInt() != StateStore::kFormat) {
    return Status::Error(fmt::format("\"format\" is {}, not {}", ops::QuoteValue(format->value),
                                     StateStore::kFormat));
  }
  auto id = object.FindMember("run_id");
  if (id == object.MemberEnd()) return Status::Error("has no \"run_id\"");
  if (!id->value.IsString() ||
      std::string_view(id->value.GetString(), id->value.GetStringLength()) != run_id) {
    return Status::Error(fmt::format("\"run_id\" is {}, not {} as the file's name says",
                                     ops::QuoteValue(id->value), ops::QuoteText(run_id)));
  }
  return doc;
}

// The run_id a state file's name carries, or empty when `name` is not `<run_id>.json`.
std::string_view RunIdOfName(std::string_view name) {
  if (!name.ends_with(kSuffix)) return {};
  std::string_view run_id = name.substr(0, name.size() - kSuffix.size());
  return ops::ValidRunId(run_id) ? run_id : std::string_view();
}

// The names in `dir`, without "." and "..". Error: a sentence naming the path.
Result<std::vector<std::string>> ListDirectory(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> handle(::opendir(dir.c_str()), ::closedir);
  if (!handle) {
    return Status::Error(fmt::format("cannot read state_dir {}: {}", dir, ErrnoText(errno)));
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(handle.get())) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
    errno = 0;
  }
  if (errno != 0) {
    return Status::Error(fmt::format("cannot read state_dir {}: {}", dir, ErrnoText(errno)));
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

Result<StateStore> StateStore::Open(std::string dir) {
  if (!MakeDirectory(dir)) {
    return Status::Error(fmt::format("cannot create state_dir {}: {}", dir, ErrnoText(errno)));
  }
  // Creating and removing a file is exactly what Save and Remove need.
  std::string probe = fmt::format("{}/{}", dir, kProbeName);
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0 || ::close(fd) != 0 || ::unlink(probe.c_str()) != 0) {
    return Status::Error(fmt::format("cannot write in state_dir {}: {}", dir, ErrnoText(errno)));
  }
  return StateStore(std::move(dir));
}

Status StateStore::Save(std::string_view run_id, std::string_view text) const {
  if (Status valid = CheckRunId(run_id); !valid.ok()) return valid;
  return WriteFileAtomically(dir_, fmt::format("{}{}", run_id, kSuffix), text);
}

Status StateStore::Remove(std::string_view run_id) const {
  if (Status valid = CheckRunId(run_id); !valid.ok()) return valid;
  std::string path = fmt::format("{}/{}{}", dir_, run_id, kSuffix);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::Error(fmt::format("cannot remove {}: {}", path, ErrnoText(errno)));
  }
  // Otherwise a crash could bring the run back at the next start.
  return SyncDirectory(dir_);
}

Result<std::vector<StoredState>> StateStore::LoadAll(const CorruptHandler& on_corrupt) const {
  Result<std::vector<std::string>> names = ListDirectory(dir_);
  if (!names.ok()) return names.status();
  std::vector<StoredState> states;
  for (const std::string& name : *names) {
    if (name.starts_with('.') || name == kCorruptFolder) continue;
    std::string_view run_id = RunIdOfName(name);
    Status why = Status::Ok();
    if (run_id.empty()) {
      why = Status::Error("not a state file's name (<run_id>.json)");
    } else {
      Result<std::string> text = ReadRegularFile(fmt::format("{}/{}", dir_, name));
      Result<rapidjson::Document> state =
          text.ok() ? ParseState(*text, run_id) : Result<rapidjson::Document>(text.status());
      if (state.ok()) {
        states.push_back(StoredState{std::string(run_id), std::move(state.value())});
        continue;
      }
      why = state.status();
    }
    Result<std::string> moved = MoveAside(name);
    if (moved.ok()) {
      on_corrupt(*moved, why.message());
    } else {
      on_corrupt(fmt::format("{}/{}", dir_, name),
                 fmt::format("{}; not moved aside: {}", why.message(), moved.message()));
    }
  }
  // Names sort "a.b.json" before "a.json"; run_ids sort "a" first.
  std::sort(states.begin(), states.end(),
            [](const StoredState& a, const StoredState& b) { return a.run_id < b.run_id; });
  return states;
}

Result<std::string> StateStore::MoveAside(std::string_view name) const {
  std::string folder = fmt::format("{}/{}", dir_, kCorruptFolder);
  if (!MakeDirectory(folder)) {
    return Status::Error(fmt::format("cannot create {}: {}", folder, ErrnoText(errno)));
  }
  // Never over an earlier corrupt file: each may be the only copy of something.
  std::string target = fmt::format("{}/{}", folder, name);
  struct stat st {};
  for (int n = 1; ::lstat(target.c_str(), &st) == 0; ++n) {
    target = fmt::format("{}/{}.{}", folder, name, n);
  }
  std::string source = fmt::format("{}/{}", dir_, name);
  if (::rename(source.c_str(), target.c_str()) != 0) {
    return Status::Error(fmt::format("cannot rename {}: {}", source, ErrnoText(errno)));
  }
  // Best effort: a move lost in a crash is found and made again at the next start.
  (void)SyncDirectory(folder);
  (void)SyncDirectory(dir_);
  return target;
}

}  // namespace testrund::daemon
