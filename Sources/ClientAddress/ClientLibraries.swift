/// The `context.library.name` of Segment's client-side libraries: the ones that run on the visitor's
/// device, whose events Segment's servers give the connecting address as `context.ip` (the Spec's
/// "Common fields"). Read from each library's public source:
///
/// | name | library | where it is set |
/// |---|---|---|
/// | `analytics.js` | analytics.js classic and analytics-next (CDN and npm) | analytics-next `plugins/env-enrichment/index.ts`; analytics.js-integrations `segmentio/lib/index.js` |
/// | `analytics-ios` | analytics-ios | `Segment/Internal/SEGUtils.m` |
/// | `analytics-android` | analytics-android | `AnalyticsContext.java` |
/// | `analytics-swift` | analytics-swift | `Sources/Segment/Plugins/Context.swift` |
/// | `analytics-kotlin` | analytics-kotlin (Android; it also runs on JVM servers) | `core/.../plugins/ContextPlugin.kt` |
/// | `@segment/analytics-react-native` | analytics-react-native 2.x | `packages/core/src/context.ts` (the package name) |
/// | `analytics-react-native` | analytics-react-native 1.x | `packages/core/src/middleware.ts` |
/// | `analytics-flutter` | analytics_flutter | `packages/core/lib/plugins/inject_context.dart` |
/// | `Analytics.Xamarin` | Analytics.Xamarin | `Analytics.Xamarin.Pcl/Model/Context.cs` |
///
/// Not listed: `Analytics-CSharp`, which runs on servers as often as in Unity or Xamarin apps, and
/// every server-side library (`analytics-python`, `@segment/analytics-node`, `analytics-go`,
/// `analytics-java`, `analytics-ruby`, `analytics-php`, `Analytics.NET`): their "client" is an
/// application server. `ingress.client_ip.fill: all` fills those too.
public enum ClientLibraries {
    public static let names: [StaticString] = [
        "analytics.js", "analytics-ios", "analytics-android", "analytics-swift", "analytics-kotlin",
        "@segment/analytics-react-native", "analytics-react-native", "analytics-flutter", "Analytics.Xamarin",
    ]

    /// Whether `name` (a library name's bytes, exactly as sent) is a client-side library's.
    public static func contains(_ name: UnsafeRawBufferPointer) -> Bool {
        for known in names where known.utf8CodeUnitCount == name.count {
            if name.elementsEqual(UnsafeRawBufferPointer(start: known.utf8Start, count: known.utf8CodeUnitCount)) { return true }
        }
        return false
    }
}
