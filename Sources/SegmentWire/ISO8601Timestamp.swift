/// An ISO 8601 date and time as an SDK writes `sentAt`, kept as written so that it can be moved by a
/// duration and written back with only its digits changed.
///
/// Read: `YYYY-MM-DD`, then `T`, `t` or a space, `HH:MM[:SS][.fraction]` (`.` or `,`, any number of
/// digits) and an optional zone: `Z`, `z`, `±HH`, `±HHMM` or `±HH:MM` (RFC 3339, and the forms of
/// Python's `isoformat`, JavaScript's `toISOString`, Go's `RFC3339Nano` and Java's formatters). Anything
/// else, a leap second included, is not read.
///
/// Moving a time moves the wall-clock fields and keeps the zone as written: the instant moves by the same
/// duration whatever the offset, and no offset needs to be understood.
public struct ISO8601Timestamp: Sendable, Hashable {
    /// The written wall-clock time, milliseconds since 1970-01-01T00:00 in the written zone.
    public private(set) var milliseconds: Int64
    /// Digits of the fraction beyond the milliseconds, kept as written.
    private var finerDigits: [UInt8]
    /// How many fraction digits were written (0 when none).
    private var fractionDigits: Int
    private var separator: UInt8
    /// The zone as written: empty, `Z`, `+01:00`, ….
    private var zone: [UInt8]

    /// The earliest and latest times written with a four-digit year.
    private static let range: ClosedRange<Int64> = -62_135_596_800_000...253_402_300_799_999

    /// Reads a timestamp; `nil` for anything but the forms above.
    public init?(_ text: some Collection<UInt8>) {
        var reader = DigitReader(Array(text))
        guard let year = reader.digits(4), reader.skip("-"), let month = reader.digits(2), reader.skip("-"),
            let day = reader.digits(2), (1...12).contains(month), (1...Self.daysIn(month, of: year)).contains(day),
            let separator = reader.next(), separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t") || separator == 0x20,
            let hour = reader.digits(2), hour < 24, reader.skip(":"), let minute = reader.digits(2), minute < 60
        else { return nil }
        var second = 0
        if reader.skip(":") {
            guard let value = reader.digits(2), value < 60 else { return nil }
            second = value
        }
        var millisecond = 0
        var fraction: [UInt8] = []
        if reader.skip(".") || reader.skip(",") {
            fraction = reader.digitRun()
            guard !fraction.isEmpty else { return nil }
            for index in 0..<3 {
                millisecond = millisecond * 10 + (index < fraction.count ? Int(fraction[index] &- UInt8(ascii: "0")) : 0)
            }
        }
        let zone = reader.rest
        guard Self.isZone(zone) else { return nil }
        let days = Self.days(year: year, month: month, day: day)
        let milliseconds = ((days * 24 + Int64(hour)) * 60 + Int64(minute)) * 60_000 + Int64(second) * 1000 + Int64(millisecond)
        guard Self.range.contains(milliseconds) else { return nil }
        self.milliseconds = milliseconds
        self.finerDigits = Array(fraction.dropFirst(3))
        self.fractionDigits = fraction.count
        self.separator = separator
        self.zone = zone
    }

    /// The same time moved by `delta` milliseconds; `nil` when it would leave years 0001–9999.
    public func moved(byMilliseconds delta: Int64) -> ISO8601Timestamp? {
        let (sum, overflow) = milliseconds.addingReportingOverflow(delta)
        guard !overflow, Self.range.contains(sum) else { return nil }
        var moved = self
        moved.milliseconds = sum
        return moved
    }

    /// The timestamp as written, with its date and time digits for ``milliseconds``: at least three
    /// fraction digits once it has any, the finer ones and the zone as read.
    public var bytes: [UInt8] {
        let (days, time) = Self.floorDivision(milliseconds, 86_400_000)
        let (year, month, day) = Self.civil(fromDays: days)
        var out: [UInt8] = []
        out.reserveCapacity(24 + finerDigits.count + zone.count)
        func append(_ value: Int, width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
        }
        append(year, width: 4)
        out.append(UInt8(ascii: "-"))
        append(month, width: 2)
        out.append(UInt8(ascii: "-"))
        append(day, width: 2)
        out.append(separator)
        append(Int(time / 3_600_000), width: 2)
        out.append(UInt8(ascii: ":"))
        append(Int(time / 60_000 % 60), width: 2)
        out.append(UInt8(ascii: ":"))
        append(Int(time / 1000 % 60), width: 2)
        let millisecond = Int(time % 1000)
        if fractionDigits > 0 || millisecond != 0 {
            out.append(UInt8(ascii: "."))
            append(millisecond, width: 3)
            out.append(contentsOf: finerDigits)
        }
        out.append(contentsOf: zone)
        return out
    }

    // MARK: Calendar (proleptic Gregorian, days since 1970-01-01)

    private static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    private static func daysIn(_ month: Int, of year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a date (the civil-calendar algorithm of H. Hinnant, years from March).
    private static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * Int64(month > 2 ? month - 3 : month + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a number of days since 1970-01-01.
    private static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0)), Int(month), Int(day))
    }

    private static func floorDivision(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let remainder = value % divisor
        return remainder < 0 ? (value / divisor - 1, remainder + divisor) : (value / divisor, remainder)
    }

    /// Empty, `Z`/`z`, `±HH`, `±HHMM` or `±HH:MM` with hours under 24 and minutes under 60.
    private static func isZone(_ zone: [UInt8]) -> Bool {
        if zone.isEmpty || zone == [UInt8(ascii: "Z")] || zone == [UInt8(ascii: "z")] { return true }
        guard let sign = zone.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { return false }
        var reader = DigitReader(Array(zone.dropFirst()))
        guard let hours = reader.digits(2), hours < 24 else { return false }
        if reader.rest.isEmpty { return true }
        _ = reader.skip(":")
        guard let minutes = reader.digits(2), minutes < 60 else { return false }
        return reader.rest.isEmpty
    }
}

/// Reads fixed-width digit fields and separators off the front of a byte string.
private struct DigitReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var rest: [UInt8] { Array(bytes[position...]) }

    mutating func next() -> UInt8? {
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func skip(_ separator: Unicode.Scalar) -> Bool {
        guard position < bytes.count, bytes[position] == UInt8(ascii: separator) else { return false }
        position += 1
        return true
    }

    /// Exactly `count` digits as a number, or `nil` (and nothing read).
    mutating func digits(_ count: Int) -> Int? {
        guard position + count <= bytes.count else { return nil }
        var value = 0
        for byte in bytes[position..<position + count] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        position += count
        return value
    }

    /// The digits from here to the first non-digit.
    mutating func digitRun() -> [UInt8] {
        let start = position
        while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") { position += 1 }
        return Array(bytes[start..<position])
    }
}
