// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the config file parser (daemon/config). The input is a config file's
// text, applied on top of the defaults as `--config FILE` would; a file that is accepted
// is then validated and mapped into the engine's, dispatcher's and transports' limits,
// and every address and size value of it parsed again by the public helpers.
// Oracles: no crash, leak or sanitizer report; an error names the file; an accepted file
// keeps every numeric option inside its table bounds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "daemon/config.h"
#include "test/fuzz/fuzz_support.h"

namespace {

using namespace testrund;

constexpr std::string_view kFileName = "fuzz.conf";

void CheckBounds(daemon::Config& config) {
  for (const daemon::OptionSpec& spec : daemon::OptionTable()) {
    if (spec.min == 0 && spec.max == 0) continue;  // unbounded
    double value = 0;
    if (auto* u = std::get_if<uint64_t& (*)(daemon::Config&)>(&spec.field)) {
      value = static_cast<double>((*u)(config));
    } else if (auto* d = std::get_if<double& (*)(daemon::Config&)>(&spec.field)) {
      value = (*d)(config);
    } else {
      continue;
    }
    if (!(value >= spec.min && value <= spec.max)) fuzz::Fail("option out of bounds", spec.key);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  daemon::Config config = daemon::DefaultConfig();
  Status status = daemon::ApplyConfigText(text, kFileName, &config);
  if (!status.ok()) {
    if (status.message().rfind(kFileName, 0) != 0) fuzz::Fail("error without file name",
                                                              status.message());
    return 0;
  }
  CheckBounds(config);
  Status valid = daemon::Validate(config);
  (void)valid;
  for (const std::string& address : config.listen) (void)daemon::ParseHostPort(address);
  for (const std::string& address : config.tls_listen) (void)daemon::ParseHostPort(address);
  return 0;
}
