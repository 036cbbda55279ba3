/* libyaml, for profiles. */
#include <yaml.h>
