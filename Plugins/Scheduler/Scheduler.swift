import SkiffABI
import PluginKit
