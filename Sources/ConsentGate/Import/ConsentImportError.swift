/// Why a `consent import` stopped. Never names a subject.
///
/// Subjects already committed when it stopped stay in the store (``imported``); the batch that held
/// a bad line was not written at all.
public struct ConsentImportError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The file could not be opened or read.
        case unreadableFile = "unreadable_file"
        /// A line is not a consent document.
        case invalidLine = "invalid_line"
        /// The configured store cannot be written by consentgate.
        case storeNotWritable = "store_not_writable"
        /// The store could not be opened or failed while writing.
        case storeFailed = "store_failed"
    }

    public var kind: Kind
    /// The 1-based line at fault, for ``Kind/invalidLine`` (and a line too long to read).
    public var line: Int?
    /// What is wrong, without the line's content.
    public var problem: String
    /// Subjects committed before the import stopped.
    public var imported: Int
    /// The last line of the last committed batch (0 when nothing was committed).
    public var importedThroughLine: Int

    public init(kind: Kind, line: Int? = nil, problem: String, imported: Int = 0, importedThroughLine: Int = 0) {
        self.kind = kind
        self.line = line
        self.problem = problem
        self.imported = imported
        self.importedThroughLine = importedThroughLine
    }

    /// One line for an operator: `line 7: expected ':' after a key (at byte 12); nothing was imported`.
    public var description: String {
        let what = line.map { "line \($0): \(problem)" } ?? problem
        if imported > 0 {
            let subjects = imported == 1 ? "1 subject" : "\(imported) subjects"
            return what + "; \(subjects) from lines 1-\(importedThroughLine) were imported before it and stay in the store"
        }
        // Nothing to say about progress when the import never got to read a line.
        switch kind {
        case .storeNotWritable: return what
        case .unreadableFile where line == nil: return what
        default: return what + "; nothing was imported"
        }
    }
}
