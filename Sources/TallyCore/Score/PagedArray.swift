/// An append-only array kept in fixed pages of 2 MiB (on huge pages where the kernel gives
/// them: see `LargeMemory`), for the scorer's largest tables and the keys a feed lists in order.
///
/// A Swift array doubles its storage when full and copies everything across: the scorer's peak
/// memory then held the old storage, the new one and its unused half at once (and glibc kept the
/// freed blocks mapped). Pages are never moved, so memory is what is used plus one page.
///
/// The page pointers are kept in memory of its own, not in a Swift array: an array in a class's
/// stored property is retained and released around every element read through it, which was 9% of
/// scoring's time (perf). The struct owns its pages; it is not to be copied and used twice.
struct PagedArray<Element> {
    private var pages: UnsafeMutablePointer<UnsafeMutablePointer<Element>>?
    private var pageCount = 0, pageCapacity = 0
    private(set) var count = 0
    static var pageShift: Int {
        // 2 MiB: 2^21 bytes over the element's size rounded up to a power of two.
        let size = MemoryLayout<Element>.stride
        return 21 - (Int.bitWidth - (size - 1).leadingZeroBitCount)
    }
    static var pageSize: Int { 1 << pageShift }

    /// Frees every page (the owner calls this; a struct has no deinit).
    mutating func deallocate() {
        for i in 0..<pageCount {
            let used = min(Self.pageSize, count - i * Self.pageSize)
            if used > 0 { pages![i].deinitialize(count: used) }
            LargeMemory.deallocate(pages![i], count: Self.pageSize)
        }
        pages?.deallocate()
        pages = nil
        pageCount = 0
        pageCapacity = 0
        count = 0
    }

    /// Forgets every element, keeping the pages for the next ones.
    mutating func removeAll() {
        for i in 0..<pageCount {
            let used = min(Self.pageSize, count - i * Self.pageSize)
            if used > 0 { pages![i].deinitialize(count: used) }
        }
        count = 0
    }

    /// Room for one more page pointer.
    private mutating func addPage() {
        if pageCount == pageCapacity {
            let capacity = max(16, 2 * pageCapacity)
            let grown = UnsafeMutablePointer<UnsafeMutablePointer<Element>>.allocate(capacity: capacity)
            if let pages {
                grown.moveInitialize(from: pages, count: pageCount)
                pages.deallocate()
            }
            pages = grown
            pageCapacity = capacity
        }
        (pages! + pageCount).initialize(to: LargeMemory.allocateZeroed(Element.self, count: Self.pageSize))
        pageCount += 1
    }

    @inline(__always)
    mutating func append(_ value: Element) {
        if count & (Self.pageSize - 1) == 0 && count >> Self.pageShift == pageCount { addPage() }
        (pages![count >> Self.pageShift] + (count & (Self.pageSize - 1))).initialize(to: value)
        count += 1
    }

    @inline(__always)
    subscript(i: Int) -> Element {
        // (Checked in debug builds, as every caller's index comes from this scorer's own tables.)
        get { assert(i >= 0 && i < count); return pages.unsafelyUnwrapped[i >> Self.pageShift][i & (Self.pageSize - 1)] }
        nonmutating set { assert(i >= 0 && i < count); pages.unsafelyUnwrapped[i >> Self.pageShift][i & (Self.pageSize - 1)] = newValue }
    }

    /// Where element `i` lives (for prefetching).
    @inline(__always)
    func address(_ i: Int) -> UnsafeMutablePointer<Element> { pages.unsafelyUnwrapped[i >> Self.pageShift] + (i & (Self.pageSize - 1)) }

    /// Bytes held by the pages.
    var memoryBytes: Int { pageCount * Self.pageSize * MemoryLayout<Element>.stride }
}
