import Foundation
import SegmentWire
import WireTestSupport

/// Request bodies no honest SDK sends.
enum HostileBodies {
    /// A decompression bomb: `megabytes` MB of zeros as a gzip member (or a zlib stream for
    /// `Content-Encoding: deflate`), about 1 KB per MB.
    static func zeroBomb(megabytes: Int, gzip: Bool = true) -> [UInt8] {
        DecompressionBomb.zeros(megabytes: megabytes, gzip: gzip)
    }

    static func gzip(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { Gzip.compress($0) }
    }

    static func gzip(_ text: String) -> [UInt8] { gzip(Array(text.utf8)) }

    /// A zlib stream, as `Content-Encoding: deflate`.
    static func zlib(_ bytes: [UInt8]) -> [UInt8] { ZlibStream.compress(bytes) }

    /// `depth` nested arrays (closed, unless `closed` is false) as a batch item.
    static func nestedArrays(_ depth: Int, closed: Bool = true) -> [UInt8] {
        Array(#"{"batch":["#.utf8) + [UInt8](repeating: UInt8(ascii: "["), count: depth)
            + (closed ? [UInt8](repeating: UInt8(ascii: "]"), count: depth) + Array("]}".utf8) : [])
    }

    /// `depth` unclosed nested objects `{"":{"":...` as a batch item (closed, they would not fit in a batch).
    static func nestedObjects(_ depth: Int) -> [UInt8] {
        Array(#"{"batch":["#.utf8) + Array(String(repeating: #"{"":"#, count: depth).utf8)
    }

    /// A track event whose properties nest `depth` arrays.
    static func deepEvent(_ depth: Int) -> [UInt8] {
        Array(#"{"type":"track","event":"e","userId":"u","properties":{"a":"#.utf8)
            + [UInt8](repeating: UInt8(ascii: "["), count: depth) + [UInt8](repeating: UInt8(ascii: "]"), count: depth)
            + Array("}}".utf8)
    }

    /// A track event whose `properties.note` is a string of `count` letters.
    static func eventWithString(_ count: Int, messageId: String = "big-string") -> String {
        #"{"type":"track","event":"e","userId":"u","messageId":"\#(messageId)","properties":{"note":""#
            + String(repeating: "a", count: count) + #""}}"#
    }
}
