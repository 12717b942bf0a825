import Foundation
import NIOCore
import NIOPosix

/// Keeps every thread of NIO's shared blocking pool busy for a while: the SQLite store's calls (and
/// any other blocking work of the process) wait meanwhile, as on a slow disk.
enum BlockingPoolStall {
    static func stall(for duration: Duration) {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        for _ in 0..<NIOSingletons.blockingPoolThreadCountSuggestion {
            NIOThreadPool.singleton.submit { _ in Thread.sleep(forTimeInterval: seconds) }
        }
    }
}
