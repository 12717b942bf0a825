#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// libdeflate, loaded at run time: the shared library (`libdeflate.so.0`, Debian's `libdeflate0`) is
/// opened once with `dlopen` and the five entry points consentgate uses are resolved once with `dlsym`.
///
/// Why at run time: the package then builds with zlib's headers alone (no `libdeflate-dev`), and a host
/// without libdeflate still runs, with zlib doing the same work (``DeflateLibrary``). The signatures
/// below are those of libdeflate's public header (`libdeflate.h`, stable since 1.0); `size_t` is `Int`
/// (same size and calling convention on every 64-bit platform Swift runs on), an opaque
/// `struct libdeflate_(de)compressor *` is an `OpaquePointer`, and `enum libdeflate_result` is an `Int32`.
///
/// A call goes through a function pointer held in ``shared``: one indirect call, the same cost as the
/// PLT stub that a link-time binding went through.
struct LibDeflate: @unchecked Sendable {
    // @unchecked: C function pointers and the library handle are immutable after loading and valid for
    // the process's life (the library is never closed).

    typealias AllocDecompressor = @convention(c) () -> OpaquePointer?
    typealias FreeDecompressor = @convention(c) (OpaquePointer?) -> Void
    typealias GzipDecompressEx = @convention(c) (
        OpaquePointer?, UnsafeRawPointer?, Int, UnsafeMutableRawPointer?, Int, UnsafeMutablePointer<Int>?, UnsafeMutablePointer<Int>?
    ) -> Int32
    typealias AllocCompressor = @convention(c) (Int32) -> OpaquePointer?
    typealias FreeCompressor = @convention(c) (OpaquePointer?) -> Void
    typealias GzipCompressBound = @convention(c) (OpaquePointer?, Int) -> Int
    typealias GzipCompress = @convention(c) (OpaquePointer?, UnsafeRawPointer?, Int, UnsafeMutableRawPointer?, Int) -> Int

    /// `LIBDEFLATE_SUCCESS`.
    static let success: Int32 = 0

    let allocDecompressor: AllocDecompressor
    let freeDecompressor: FreeDecompressor
    let gzipDecompressEx: GzipDecompressEx
    let allocCompressor: AllocCompressor
    let freeCompressor: FreeCompressor
    let gzipCompressBound: GzipCompressBound
    let gzipCompress: GzipCompress

    /// The file names tried, in order: the soname a distribution installs with the runtime package.
    static let libraryNames: [String] = {
        #if canImport(Darwin)
        ["libdeflate.0.dylib", "libdeflate.dylib"]
        #else
        ["libdeflate.so.0"]
        #endif
    }()

    /// The outcome of loading the library, on first use (a `dlopen` of an absent file costs about
    /// 50 µs once).
    static let loaded: Result<LibDeflate, LoadProblem> = load()

    /// The library; `nil` when it is not installed or lacks an entry point.
    static var shared: LibDeflate? { try? loaded.get() }

    /// Why ``shared`` is `nil` (`dlerror`'s text), or `nil` when libdeflate is loaded.
    static var loadProblem: String? {
        switch loaded {
        case .success: nil
        case .failure(let problem): problem.description
        }
    }

    /// A reason the library could not be used (the text of `dlerror`, which names the file or symbol).
    struct LoadProblem: Error, CustomStringConvertible {
        var description: String
    }

    /// Opens the library and resolves every entry point, or says why it cannot.
    static func load(names: [String] = libraryNames) -> Result<LibDeflate, LoadProblem> {
        var problems: [String] = []
        for name in names {
            // RTLD_LOCAL: libdeflate's symbols stay out of the global namespace.
            guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
                problems.append(dlerror().map { String(cString: $0) } ?? "\(name): cannot be opened")
                continue
            }
            func symbol<F>(_ symbolName: String, as type: F.Type) throws(LoadProblem) -> F {
                guard let address = dlsym(handle, symbolName) else {
                    throw LoadProblem(description: "\(name): no symbol \(symbolName)")
                }
                return unsafeBitCast(address, to: type)
            }
            do {
                return .success(
                    LibDeflate(
                        allocDecompressor: try symbol("libdeflate_alloc_decompressor", as: AllocDecompressor.self),
                        freeDecompressor: try symbol("libdeflate_free_decompressor", as: FreeDecompressor.self),
                        gzipDecompressEx: try symbol("libdeflate_gzip_decompress_ex", as: GzipDecompressEx.self),
                        allocCompressor: try symbol("libdeflate_alloc_compressor", as: AllocCompressor.self),
                        freeCompressor: try symbol("libdeflate_free_compressor", as: FreeCompressor.self),
                        gzipCompressBound: try symbol("libdeflate_gzip_compress_bound", as: GzipCompressBound.self),
                        gzipCompress: try symbol("libdeflate_gzip_compress", as: GzipCompress.self)))
            } catch {
                dlclose(handle)
                problems.append(error.description)
            }
        }
        return .failure(LoadProblem(description: problems.joined(separator: "; ")))
    }
}
