/// An append-only array kept in fixed pages of 2 MiB (on huge pages where the kernel gives
/// them: see `LargeMemory`), for the scorer's largest tables.
///
/// A Swift array doubles its storage when full and copies everything across: the scorer's peak
/// memory then held the old storage, the new one and its unused half at once (and glibc kept the
/// freed blocks mapped). Pages are never moved, so memory is what is used plus one page.
struct PagedArray<Element> {
    private var pages: [UnsafeMutablePointer<Element>] = []
    private(set) var count = 0
    static var pageShift: Int {
        // 2 MiB: 2^21 bytes over the element's size rounded up to a power of two.
        let size = MemoryLayout<Element>.stride
        return 21 - (Int.bitWidth - (size - 1).leadingZeroBitCount)
    }
    static var pageSize: Int { 1 << pageShift }

    /// Frees every page (the owner calls this; a struct has no deinit).
    mutating func deallocate() {
        for (i, page) in pages.enumerated() {
            let used = min(Self.pageSize, count - i * Self.pageSize)
            page.deinitialize(count: used)
            LargeMemory.deallocate(page, count: Self.pageSize)
        }
        pages = []
        count = 0
    }

    @inline(__always)
    mutating func append(_ value: Element) {
        if count & (Self.pageSize - 1) == 0 && count >> Self.pageShift == pages.count {
            pages.append(LargeMemory.allocateZeroed(Element.self, count: Self.pageSize))
        }
        (pages[count >> Self.pageShift] + (count & (Self.pageSize - 1))).initialize(to: value)
        count += 1
    }

    @inline(__always)
    subscript(i: Int) -> Element {
        get { pages[i >> Self.pageShift][i & (Self.pageSize - 1)] }
        nonmutating set { pages[i >> Self.pageShift][i & (Self.pageSize - 1)] = newValue }
    }

    /// Where element `i` lives (for prefetching).
    @inline(__always)
    func address(_ i: Int) -> UnsafeMutablePointer<Element> { pages[i >> Self.pageShift] + (i & (Self.pageSize - 1)) }

    /// Bytes held by the pages.
    var memoryBytes: Int { pages.count * Self.pageSize * MemoryLayout<Element>.stride }
}
