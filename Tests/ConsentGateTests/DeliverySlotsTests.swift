import NIOConcurrencyHelpers
import Testing

@testable import ConsentGate

/// ``DeliverySlots``, the deliverer's count in flight and stop switch, without sockets: takes and releases
/// count, stop refuses later takes and ends backoff waits, idle means no delivery left.
@Suite(.timeLimit(.minutes(1)))
struct DeliverySlotsTests {
    @Test func takesAndReleasesCountInFlight() {
        let slots = DeliverySlots(limit: 2)
        #expect(slots.take() && slots.take())
        #expect(slots.inFlight == 2)
        slots.release()
        #expect(slots.inFlight == 1)
        #expect(DeliverySlots(limit: 0).limit == 1, "at least one worker")
    }

    @Test func stopRefusesLaterTakes() {
        let slots = DeliverySlots(limit: 1)
        #expect(slots.take())
        slots.stop()
        #expect(slots.isStopped)
        #expect(!slots.take(), "a record handed out after stop stays in the log")
        #expect(slots.inFlight == 1)
    }

    @Test func idleOnceTheLastDeliveryEnds() async throws {
        let slots = DeliverySlots(limit: 4)
        #expect(slots.take() && slots.take())
        let idled = NIOLockedValueBox(false)
        let idle = Task {
            await slots.waitUntilIdle()
            idled.withLockedValue { $0 = true }
        }
        slots.release()
        try await Task.sleep(for: .milliseconds(100))
        #expect(!idled.withLockedValue { $0 }, "one delivery is still in flight")
        slots.release()
        await idle.value
        #expect(slots.inFlight == 0)
        await slots.waitUntilIdle()  // already idle: returns at once
    }

    @Test func aPauseEndsEarlyOnStop() async throws {
        let slots = DeliverySlots(limit: 1)
        #expect(await slots.pause(.milliseconds(20)), "an uninterrupted pause runs its course")
        let started = ContinuousClock.now
        let long = Task { await slots.pause(.seconds(30)) }
        try await Task.sleep(for: .milliseconds(100))
        slots.stop()
        #expect(await long.value == false, "stop ends a backoff wait")
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(await slots.pause(.seconds(30)) == false, "after stop a pause returns at once")
    }
}
