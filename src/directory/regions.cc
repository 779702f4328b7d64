#include "directory/regions.h"

#include <algorithm>
#include <array>

#include "common/encoding.h"

namespace meridian::directory {
namespace {

// Every ISO 3166-1 alpha-2 code.
constexpr std::string_view kIso3166 =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR "
    "BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ "
    "EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW "
    "GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY "
    "KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV "
    "MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY "
    "QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG "
    "TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM "
    "ZW";

// Europe, the Middle East and Africa (including their territories that ISO lists separately).
constexpr std::string_view kEmea =
    "AD AE AL AM AO AT AX AZ BA BE BF BG BH BI BJ BW BY CD CF CG CH CI CM CV CY CZ DE DJ DK DZ EE "
    "EG EH ER ES ET FI FO FR GA GB GE GG GH GI GM GN GQ GR GW HR HU IE IL IM IQ IR IS IT JE JO KE "
    "KM KW LB LI LR LS LT LU LV LY MA MC MD ME MG MK ML MR MT MU MW MZ NA NE NG NL NO OM PL PS PT "
    "QA RE RO RS RU RW SA SC SD SE SH SI SJ SK SL SM SN SO SS ST SY SZ TD TG TN TR TZ UA UG VA YE "
    "YT ZA ZM ZW";
constexpr std::string_view kNorthAmerica = "US CA MX PR UM VI GU AS MP";
constexpr std::string_view kAustralia = "AU NZ CX CC NF HM";
constexpr std::string_view kJapan = "JP";
constexpr std::string_view kChina = "CN";

bool InList(std::string_view list, std::string_view code) {
  for (size_t i = 0; i + 2 <= list.size(); i += 3) {
    if (list.substr(i, 2) == code) return true;
  }
  return false;
}

struct RegionInfo {
  Region region;
  std::string_view code;
  std::string_view name;
};
constexpr std::array<RegionInfo, 7> kRegions = {{
    {Region::kNorthAmerica, "na", "North America"},
    {Region::kEmea, "emea", "EMEA"},
    {Region::kAustralia, "au", "Australia"},
    {Region::kJapan, "jp", "Japan"},
    {Region::kWorldwide, "ww", "Worldwide"},
    {Region::kChina, "cn", "China"},
    {Region::kUsGovernment, "usgov", "US Government"},
}};

}  // namespace

std::string_view RegionCode(Region r) { return kRegions[static_cast<int>(r)].code; }
std::string_view RegionDisplayName(Region r) { return kRegions[static_cast<int>(r)].name; }

Result<Region> ParseRegionCode(std::string_view code) {
  for (const RegionInfo& info : kRegions) {
    if (info.code == code) return info.region;
  }
  return InvalidArgument("unknown region '" + std::string(code) + "'");
}

std::vector<Region> CloudRegions(std::string_view cloud) {
  if (cloud == "global") {
    return {Region::kNorthAmerica, Region::kEmea, Region::kAustralia, Region::kJapan,
            Region::kWorldwide};
  }
  if (cloud == "usgov") return {Region::kUsGovernment};
  if (cloud == "china") return {Region::kChina};
  return {};
}

bool IsCountryCode(std::string_view country) {
  std::string code(country);
  for (char& c : code) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  return code.size() == 2 && InList(kIso3166, code);
}

Result<Region> RegionForCountry(std::string_view country, std::string_view cloud) {
  std::string code(country);
  for (char& c : code) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  if (!IsCountryCode(code)) {
    return InvalidArgument("'" + std::string(country) +
                           "' is not an ISO 3166-1 alpha-2 country code");
  }
  Region region;
  if (cloud == "usgov") {
    if (code != "US") {
      return InvalidArgument("the US Government cloud hosts only tenants located in the US");
    }
    return Region::kUsGovernment;
  }
  if (InList(kChina, code)) region = Region::kChina;
  else if (InList(kNorthAmerica, code)) region = Region::kNorthAmerica;
  else if (InList(kEmea, code)) region = Region::kEmea;
  else if (InList(kAustralia, code)) region = Region::kAustralia;
  else if (InList(kJapan, code)) region = Region::kJapan;
  else region = Region::kWorldwide;
  auto hosted = CloudRegions(cloud);
  if (std::find(hosted.begin(), hosted.end(), region) == hosted.end()) {
    return InvalidArgument("country " + code + " belongs to region " +
                           std::string(RegionDisplayName(region)) +
                           ", which is a separate cloud; this deployment is the '" +
                           std::string(cloud) + "' cloud");
  }
  return region;
}

}  // namespace meridian::directory
