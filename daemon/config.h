// SPDX-License-Identifier: Apache-2.0
// Config: every daemon option (docs/configuration.md) as one table of data {key, type,
// default, bounds, help, field} and the code that reads it: defaults, then the config file
// (`key = value`, `#` comments, repeated list keys add), then command-line flags
// (`--kebab-case`, which override the file; a list flag replaces the file's list). The
// table is the one source of every default and bound: its rows write straight into the
// engine's, the dispatcher's and the transports' limit structs held in Config, which have
// none of their own. Adding an option is one row plus the code that uses its field.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "daemon/coordinator/coordinator_options.h"
#include "daemon/transport_limits.h"
#include "ops/engine_limits.h"
#include "ops/report/webhook_allow.h"
#include "ops/base/status.h"
#include "rpc/dispatcher.h"

namespace testrund::daemon {

struct Config {
  std::vector<std::string> listen;      // HOST:PORT, plain
  std::vector<std::string> tls_listen;  // HOST:PORT, TLS
  std::string tls_cert;                 // PEM certificate chain file
  std::string tls_key;                  // PEM private key file
  std::vector<std::string> token;       // TOKEN:ROLE
  std::string results_dir;
  // Where each run's definition, control state and latest results are kept (state_store.h);
  // empty: nowhere. The live runs' results are written every checkpoint_interval seconds.
  std::string state_dir;
  double checkpoint_interval = 0;
  std::string log_level;
  std::string log_file;
  // Where webhook reporters may POST (ops/report/run_reporters.h).
  ops::WebhookAllowList webhook_allow;
  ops::EngineLimits engine;
  rpc::DispatchLimits dispatch;
  TransportLimits transport;
  CoordinatorOptions coordinator;

  std::string config_file;  // the file that was read; empty when none
};

enum class OptionType {
  kString,       // free text (a path); empty means unset
  kAddressList,  // repeated HOST:PORT
  kTokenList,    // repeated TOKEN:ROLE
  kLogLevel,     // error | warn | info | debug
  kSize,         // bytes, or a number with a K/M/G suffix (binary multiples)
  kCount,        // a non-negative integer
  kSeconds,      // a non-negative decimal number of seconds
  kBool,         // true | false; the flag alone means true
  kAddressCsv,   // HOST:PORT[,HOST:PORT...] in one value (not repeatable: the last wins)
  kAllowList,    // addresses, CIDR networks and host names, comma- or space-separated
};

// Where an option's value lives in Config (a member, or a member of one of its limit
// structs); the alternative matches the option's type.
using ConfigField =
    std::variant<std::string& (*)(Config&), std::vector<std::string>& (*)(Config&),
                 uint64_t& (*)(Config&), double& (*)(Config&), bool& (*)(Config&),
                 ops::WebhookAllowList& (*)(Config&)>;

// One row of the option table. `default_value` is parsed by the same code as the file.
struct OptionSpec {
  std::string_view key;  // file key, with underscores; the flag is `--` + key with dashes
  OptionType type;
  std::string_view default_value;
  double min;  // numeric types: inclusive bounds
  double max;
  std::string_view help;
  ConfigField field;
};

// Every option, in the order --help and conf/testrund.conf list them.
std::span<const OptionSpec> OptionTable();

// What the command line asks for.
enum class Action { kRun, kCheckConfig, kVersion, kHelp };

struct Invocation {
  Action action = Action::kRun;
  Config config;
};

// The configuration with every default applied.
Config DefaultConfig();

// Applies `text` as the contents of config file `file_name` on top of `*config`. The first
// occurrence of a list key replaces the list it inherited; later ones add; an empty value
// clears it. Error: "FILE:LINE: KEY: problem" for an unknown key, a bad value or a line
// without `=`; `*config` is then partly updated.
Status ApplyConfigText(std::string_view text, std::string_view file_name, Config* config);

// Reads `path` and applies it (ApplyConfigText). Error: unreadable file, or as above.
Status ApplyConfigFile(const std::string& path, Config* config);

// Parses argv (argv[0] is skipped): defaults, then --config FILE when given, then every
// other flag. Validates the result (Validate). Error: a message naming the file, line and
// key, or the flag; main prints it and exits 2. --version/--help stop validation.
Result<Invocation> ParseCommandLine(std::span<const char* const> args);

// Cross-option checks: at least one listener, TLS listeners need a cert and a key, a
// coordinator needs workers.
Status Validate(const Config& config);

// Parses a size: "1024", "16K", "16M", "1G" (binary multiples, case-insensitive).
Result<uint64_t> ParseSize(std::string_view text);

struct HostPort {
  std::string host;  // without IPv6 brackets
  uint16_t port = 0;
};
// Parses "HOST:PORT" or "[V6]:PORT". Error: a sentence quoting the text.
Result<HostPort> ParseHostPort(std::string_view text);

// The --help text, generated from the option table.
std::string HelpText();

}  // namespace testrund::daemon
