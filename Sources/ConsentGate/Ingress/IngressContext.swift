import Hummingbird
import NIOCore

/// The ingress request context: Hummingbird's basics plus the connection's channel, so a request
/// whose body missed its deadline can have its connection closed instead of drained.
struct IngressContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}
