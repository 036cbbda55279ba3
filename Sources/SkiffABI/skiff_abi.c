/* The ABI is a header only. This file exists because SwiftPM needs a source file in a C target;
 * it must define no symbols, so that a plugin linking this target exports only its own entry. */
#include "skiff.h"
