import CTally

/// Zeroed memory for the big hash tables (the crosswalk, the scorer's people), mapped directly
/// and, on Linux, marked for 2 MiB pages.
///
/// A lookup in a 128 MiB table lands on a random 4 KiB page: a TLB miss and a page walk on top of
/// the cache miss. With 2 MiB pages the whole table needs 64 TLB entries instead of 32,768
/// (measured on tally-link with a 5M-identifier crosswalk: see BENCHMARKS.md). Fresh anonymous
/// mappings are already zero, so the table needs no clearing pass. Kernels that do not give huge
/// pages (transparent_hugepage `never`) still give correct, ordinary memory.
enum LargeMemory {
    /// `count` zeroed elements of a trivial type. Free with `deallocate(_:count:)`.
    static func allocateZeroed<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        precondition(_isPOD(T.self), "LargeMemory holds plain values only")
        let bytes = max(1, count * MemoryLayout<T>.stride)
        guard bytes >= hugePage else {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: MemoryLayout<T>.alignment)
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            return raw.bindMemory(to: T.self, capacity: count)
        }
        guard let start = tally_map_zeroed(bytes) else {
            fatalError("out of memory: could not map \(bytes) bytes for a table")
        }
        return start.bindMemory(to: T.self, capacity: count)
    }

    static func deallocate<T>(_ p: UnsafeMutablePointer<T>, count: Int) {
        let bytes = max(1, count * MemoryLayout<T>.stride)
        if bytes >= hugePage { tally_unmap(UnsafeMutableRawPointer(p), bytes) } else { UnsafeMutableRawPointer(p).deallocate() }
    }

    static let hugePage = 1 << 21
}
