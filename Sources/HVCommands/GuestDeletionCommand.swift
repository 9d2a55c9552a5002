import Foundation
import HVAPI
import HVCore

/// `hv guest delete`: hvd says what goes (a disk in the guest folder with its
/// size above all) and what stays; the user is asked; hvd moves the folder
/// into backup/<time>/. The System Manager's delete is the same two calls.
enum GuestDeletion {
    static func delete(_ ctx: Context, ref: String, yes: Bool) throws {
        let plan = try ctx.api.get(.guestDeletionPlan(ref), as: DeletionPlan.self)
        Out.say("Deleting guest \(plan.folder) (\(plan.name)) removes:")
        for line in plan.goes { Out.say("  \(line)") }
        for line in plan.kept { Out.say("Kept: \(line).") }
        Out.say("Everything is moved to \(ctx.layout.backupDir.path)/<time>/ (nothing is lost: move it back to restore the guest).")
        try Confirm.ask("Delete guest \(plan.folder)?", yes: yes)
        let r = try ctx.api.post(.guestDelete(ref), DeleteRequest(confirm: true), as: DeleteResult.self)
        Out.say(r.message)
        if let vmf = try? ctx.api.get(.vmfStatus, as: VMFStatus.self), vmf.loaded, vmf.reservedCores[plan.folder] != nil {
            Out.say("note: the loaded VMF still reserves a core for it; reload: hv_vmf_stop && hv_vmf_start")
        }
    }
}
