/// docs/CONFIG.md, made from the schemas that validate the files, so the
/// reference cannot drift from what hv accepts (a test compares the two).
public enum ConfigReference {
    public static func markdown() -> String {
        var out = """
            # Configuration reference

            Generated from the schemas hv validates with (`hv config-reference` prints it).
            Values are always quoted strings: `"Key"="Value"`. A key set in a guest's
            `usr.config` wins over the same key in its `guest.config`.

            ## guest.config and usr.config


            """
        out += table(GuestConfig.schema)
        out += """

            ## config/hv.config

            One `[Guests\\<folder>]` section per guest. Written by the System Manager
            (`hv_sync_example`); editing it by hand is not recommended.


            """
        out += table(HypervisorConfig.schema)
        out += """

            ## usr_guest_config.sh

            Sourced with bash by `guest_config.sh` before every start. It may set:

            | variable | meaning |
            |---|---|
            | `HV_KERNEL_APPEND` | words added to the RT-Linux kernel command line |
            | `HV_QEMU_EXTRA_ARGS=(…)` | extra QEMU arguments, one per array element |
            | `HV_HOOK_ENV=(NAME=value …)` | extra environment for `vm_shutdown_hook.sh` |

            What it prints is shown only when it fails; a script that fails stops the start.

            """
        return out
    }

    static func table(_ schema: ConfigSchema) -> String {
        var out = "| section | key | value | default | meaning |\n|---|---|---|---|---|\n"
        for s in schema.sections {
            let name = s.name.hasSuffix("\\") ? "[\(s.name)<folder>]" : "[\(s.name)]"
            for k in s.keys {
                out += "| `\(name)` | `\(k.name)`\(k.required ? " (required)" : "") | \(k.kind.expectation) | \(k.defaultValue.documented) | \(k.help) |\n"
            }
        }
        return out
    }
}
