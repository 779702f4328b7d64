#include "common/status.h"

namespace meridian {

std::string Status::ToString() const {
  if (ok()) return "OK";
  return (graph_code_.empty() ? std::string("error") : graph_code_) + ": " + message_;
}

}  // namespace meridian
