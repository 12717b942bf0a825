/// What varies per source at run time, built once in `Gateway`: the source's own ``ConsentEnforcer``
/// (its policy, its name on metrics, audit records and the debugger) and the forwarder of its upstream
/// (shared by every source with the same upstream URL). The request path takes a source's route from
/// the ``SourceTable`` and uses it as it is, never branching on which source it is.
struct SourceRoute: Sendable {
    let enforcer: ConsentEnforcer
    let forwarder: UpstreamForwarder
}

/// The ingress's table: every source's route by write key, the top-level settings as the default.
typealias IngressSources = SourceTable<SourceRoute>
