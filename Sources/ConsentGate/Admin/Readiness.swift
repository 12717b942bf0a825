/// Whether the gateway can do its work now: every check returns a problem description, or `nil`.
struct Readiness: Sendable {
    typealias Check = @Sendable () async -> String?
    var checks: [Check]

    func problems() async -> [String] {
        var problems: [String] = []
        for check in checks {
            if let problem = await check() { problems.append(problem) }
        }
        return problems
    }
}
