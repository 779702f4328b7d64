#include "graph/query.h"
