import NIOCore

/// A request body after decoding: the wire buffer itself when it was not compressed
/// (no copy), else the inflated bytes.
enum RequestBytes: Sendable {
    case wire(ByteBuffer)
    case inflated([UInt8])

    var count: Int {
        switch self {
        case .wire(let buffer): buffer.readableBytes
        case .inflated(let bytes): bytes.count
        }
    }

    func withBytes<T, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> T) throws(E) -> T {
        switch self {
        case .wire(let buffer):
            let result: Result<T, E> = buffer.withUnsafeReadableBytes { pointer in
                do throws(E) { return .success(try body(pointer)) } catch { return .failure(error) }
            }
            return try result.get()
        case .inflated(let bytes):
            let result: Result<T, E> = bytes.withUnsafeBytes { pointer in
                do throws(E) { return .success(try body(pointer)) } catch { return .failure(error) }
            }
            return try result.get()
        }
    }
}
