import CZlib

/// zlib streams (RFC 1950, `Content-Encoding: deflate`) for the tests, from zlib's own `compress2`.
public enum ZlibStream {
    /// `bytes` as one zlib stream at `level`.
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        var size = compressBound(UInt(bytes.count))
        var output = [UInt8](repeating: 0, count: Int(size))
        let status = output.withUnsafeMutableBufferPointer { out in
            bytes.withUnsafeBufferPointer { input in compress2(out.baseAddress, &size, input.baseAddress, UInt(input.count), level) }
        }
        precondition(status == Z_OK, "compress2 failed (\(status))")
        return Array(output[..<Int(size)])
    }
}
