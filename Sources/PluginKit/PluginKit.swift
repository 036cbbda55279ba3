// Swift conveniences over skiff.h for plugin authors.
import SkiffABI
