// Data residency: which logical region a tenant's country puts it in, and which regions a
// deployment (cloud) hosts. A tenant's region and partition are fixed when it is created.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace meridian::directory {

enum class Region { kNorthAmerica, kEmea, kAustralia, kJapan, kWorldwide, kChina, kUsGovernment };

// Short stable names used in partition ids and configuration: "na", "emea", "au", "jp", "ww",
// "cn", "usgov".
std::string_view RegionCode(Region r);
std::string_view RegionDisplayName(Region r);  // "North America", "EMEA", ...
Result<Region> ParseRegionCode(std::string_view code);

// True for an ISO 3166-1 alpha-2 country code, in any case.
bool IsCountryCode(std::string_view code);

// Maps an ISO 3166-1 alpha-2 country code (case-insensitive) to its region, as Entra does:
// North America, EMEA, Australia and Japan have regional models, China is a sovereign cloud, and
// every other country goes to Worldwide. InvalidArgument for a code that is not ISO 3166-1.
Result<Region> RegionForCountry(std::string_view country, std::string_view cloud);

// The regions a deployment of `cloud` ("global", "usgov", "china") hosts; sovereign clouds share
// nothing with the global one. Empty for an unknown cloud.
std::vector<Region> CloudRegions(std::string_view cloud);

}  // namespace meridian::directory
