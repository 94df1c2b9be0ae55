/// Suspends the calling task until it is cancelled, then returns (it does not throw): a stand-in for
/// slow work that stops only when told to. It waits on a `Gate` that the cancellation handler opens,
/// so unlike a `while !Task.isCancelled { await Task.yield() }` loop it holds no thread of the
/// cooperative pool while it waits. Returns at once when the task is already cancelled.
func untilCancelled() async {
    let cancelled = Gate()
    await withTaskCancellationHandler {
        await cancelled.wait()
    } onCancel: {
        cancelled.open()
    }
}
