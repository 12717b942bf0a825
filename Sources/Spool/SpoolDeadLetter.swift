/// A batch that will not be delivered (Segment refused it for good, or retries ran out), kept under
/// `dead-letters/` with what Segment said. Nothing else about the request is stored: the batch's own fields
/// (which include the write key in `authorization`) are what a requeue needs to forward it again.
///
/// File: `CGDEAD` magic (8 bytes), then one frame (`SpoolFrame`: length, CRC-32C, payload) whose payload is
/// ```
/// u8  version (1)
/// i64 deadAtMilliseconds
/// u8  0 | u8 1 + i64 status
/// str reason
/// u32 length + Segment's response body
/// u32 length + the batch's record payload (SpooledBatch encoding)
/// ```
/// written to a temporary name, `fsync`'d and renamed, so a reader never sees half of one.
public struct SpoolDeadLetter: Sendable, Equatable {
    /// The file's name in `dead-letters/`.
    public var name: String
    public var batch: SpooledBatch
    /// Segment's HTTP status, nil when there was no answer (connection failure, timeout).
    public var status: Int?
    public var responseBody: [UInt8]
    public var reason: String
    /// Wall clock, Unix epoch ms, when it was dead-lettered.
    public var deadAtMilliseconds: Int64

    public init(
        name: String, batch: SpooledBatch, status: Int?, responseBody: [UInt8], reason: String, deadAtMilliseconds: Int64
    ) {
        self.name = name
        self.batch = batch
        self.status = status
        self.responseBody = responseBody
        self.reason = reason
        self.deadAtMilliseconds = deadAtMilliseconds
    }

    static let magic: [UInt8] = Array("CGDEAD\0".utf8) + [1]
    static let suffix = ".dead"
    static let version: UInt8 = 1

    /// The whole file.
    func encode() -> [UInt8] {
        var payload = [UInt8]()
        payload.reserveCapacity(64 + reason.utf8.count + responseBody.count + batch.encodedCount)
        payload.append(Self.version)
        payload.appendLittleEndian(deadAtMilliseconds)
        if let status {
            payload.append(1)
            payload.appendLittleEndian(Int64(status))
        } else {
            payload.append(0)
        }
        payload.appendField(reason.utf8)
        payload.appendField(responseBody)
        var batchBytes = [UInt8]()
        batchBytes.reserveCapacity(batch.encodedCount)
        batch.encode(into: &batchBytes)
        payload.appendField(batchBytes)
        return Self.magic + SpoolFrame.encode(payload: payload)
    }

    /// Reads a whole file (`name` is its file name); `.corrupt` when it is not one this build wrote.
    static func decode(_ bytes: [UInt8], name: String) throws(SpoolError) -> SpoolDeadLetter {
        guard bytes.count > magic.count, Array(bytes[..<magic.count]) == magic else {
            throw SpoolError(.corrupt, "dead letter \(name) does not start with the dead-letter magic")
        }
        let frame = Array(bytes[magic.count...])
        return try frame.withUnsafeBytes { raw in
            Result { () throws(SpoolError) in
                var reader = SpoolByteReader(try SpoolFrame.payload(ofFrame: raw))
                guard try reader.read(UInt8.self) == version else {
                    throw SpoolError(.corrupt, "dead letter \(name) has an unknown version")
                }
                let deadAt = try reader.read(Int64.self)
                let status: Int? =
                    switch try reader.read(UInt8.self) {
                    case 0: nil
                    case 1: Int(try reader.read(Int64.self))
                    default: throw SpoolError(.corrupt, "dead letter \(name) has a bad status flag")
                    }
                let reason = try reader.readString()
                let responseBody = try reader.readBytes()
                let batch = try SpooledBatch.decode(try reader.readField())
                guard reader.isAtEnd else { throw SpoolError(.corrupt, "dead letter \(name) has trailing bytes") }
                return SpoolDeadLetter(
                    name: name, batch: batch, status: status, responseBody: responseBody, reason: reason,
                    deadAtMilliseconds: deadAt)
            }
        }.get()
    }
}
