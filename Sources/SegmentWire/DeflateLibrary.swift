/// The library that inflates request bodies and re-gzips re-encoded batches.
///
/// Both give the same answers: the same bytes out, the same errors (``WireError/Code``) and the same
/// limits, because libdeflate only takes the common case (one well-formed gzip member that fits the
/// limit, nothing after it) and declines everything else to zlib's streaming path, which judges it.
/// libdeflate is faster on that common case (about half of zlib's time on a 75 KB batch, BENCHMARKS.md);
/// zlib needs nothing beyond `zlib1g`. The gzip bytes of a re-encoded batch differ between the two
/// (each its own encoder), and both decode to the same batch.
public enum DeflateLibrary: String, Sendable, Hashable, CaseIterable {
    /// libdeflate's shared library (`libdeflate.so.0`), loaded at run time, for gzip bodies; zlib for
    /// deflate bodies and for every body libdeflate declines.
    case libdeflate
    /// zlib alone.
    case zlib

    /// libdeflate when its shared library loads on this host, else zlib.
    public static var preferred: DeflateLibrary { LibDeflate.shared == nil ? .zlib : .libdeflate }

    /// Whether libdeflate's shared library is loaded (it is looked for once, on first use).
    public static var isLibDeflateAvailable: Bool { LibDeflate.shared != nil }

    /// Why libdeflate is not available (the loader's message, naming the file or symbol), or `nil`.
    public static var libDeflateProblem: String? { LibDeflate.loadProblem }

    /// `self`, or zlib when this is libdeflate and libdeflate is not loaded.
    var effective: DeflateLibrary { self == .libdeflate && LibDeflate.shared == nil ? .zlib : self }
}
