import Testing

@testable import SegmentWire

@Suite struct TrackingRouteTests {
    static let routes: [(String, TrackingRoute)] = [
        ("identify", .single(.identify)), ("i", .single(.identify)),
        ("track", .single(.track)), ("t", .single(.track)),
        ("page", .single(.page)), ("p", .single(.page)),
        ("screen", .single(.screen)), ("s", .single(.screen)),
        ("group", .single(.group)), ("g", .single(.group)),
        ("alias", .single(.alias)), ("a", .single(.alias)),
        ("batch", .batch), ("import", .batch), ("b", .batch),
    ]

    @Test func everyPathWithAndWithoutATrailingSlash() {
        for (name, route) in Self.routes {
            #expect(TrackingRoute(path: "/v1/\(name)") == route, "\(name)")
            #expect(TrackingRoute(path: "/v1/\(name)/") == route, "\(name)/")
            #expect(TrackingRoute(path: "/v1/\(name)"[...]) == route, "\(name) as a Substring")
        }
    }

    @Test func unknownPaths() {
        for path in [
            "", "/", "/v1", "/v1/", "/v1//", "v1/track", "/v2/track", "/v1/tracks", "/v1/TRACK", "/v1/Track",
            "/v1/track//", "/v1//track", "/v1/track/x", "/v1/x", "/v1/c", "/v1/e", "/v1/bat", "/v1/track?x=1",
            "/v1/track ", " /v1/track", "/V1/track", "/v1/import/batch", "//v1/track", "/v1/%74rack",
        ] {
            #expect(TrackingRoute(path: path) == nil, "\(path.debugDescription)")
        }
    }

    @Test func labelsAndLimits() {
        #expect(TrackingRoute.batch.label == "batch")
        for type in EventType.allCases {
            #expect(TrackingRoute.single(type).label == type.name)
            #expect(TrackingRoute(path: "/v1/\(type.name)")?.label == type.name)
        }
        let limits = WireLimits(maxEventBytes: 10, maxBatchBytes: 20)
        #expect(TrackingRoute.batch.maxBodyBytes(limits) == 20)
        #expect(TrackingRoute.single(.track).maxBodyBytes(limits) == 10)
        #expect(TrackingRoute.batch.maxBodyBytes(WireLimits()) == 500 * 1024)
        #expect(TrackingRoute.single(.alias).maxBodyBytes(WireLimits()) == 32 * 1024)
    }

    @Test func eventTypeNamesRoundTrip() {
        for type in EventType.allCases {
            #expect(EventType(bytes: Array(type.name.utf8)) == type)
        }
        #expect(EventType(bytes: Array("Track".utf8)) == nil)
        #expect(EventType(bytes: Array("".utf8)) == nil)
        #expect(EventType(bytes: Array("tracks".utf8)) == nil)
    }
}
