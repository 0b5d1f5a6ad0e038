import TallyCore

/// Regular obligations and the history they leave: a monthly tax payment for most people and a
/// monthly instalment for some shop-account holders, from up to `SynthOptions.historyDays`
/// before the first day. Each row is reported 20 days after it falls due, when a late payment
/// is known: rows reported before the first day go into one history file per feed, dated the
/// day before it (`tax-…` and `commerce-…`); the rest into the daily files. Most people miss a
/// payment now and then (risky people often); one in six never misses one.
struct Regular {
    /// The first due day (days from the first day, ≤ 0) of the monthly tax payment; nil: none.
    var taxFrom: Int?
    /// The day of the month it falls due.
    var taxDay: Int
    /// The first due day of the monthly instalment; nil: none.
    var instalmentsFrom: Int?
    var instalmentDay: Int
    /// The chance that a payment is missed (late or unpaid).
    var missRate: Double
    var amountFen: Int64

    /// Days between a payment's due day and the file that reports it.
    static let reportLag = 20

    init(_ person: Population.Person, seed: UInt64, historyDays: Int) {
        var rng = SplitMix(seed: seed, 16, UInt64(person.index))
        func from() -> Int { rng.chance(0.4) ? -historyDays : -rng.below(historyDays + 1) }
        taxFrom = rng.chance(0.8) ? from() : nil
        taxDay = rng.within(1...28)
        instalmentsFrom = person.account != nil && rng.chance(0.5) ? from() : nil
        instalmentDay = rng.within(1...28)
        missRate = rng.chance(1.0 / 6) ? 0 : min(0.04 + 0.05 * person.risk, 0.6)
        amountFen = Int64(rng.within(20_000...2_000_000))
    }
}

extension Synthesizer {
    /// The regular obligations of every person (only with a history: without one, no feed has
    /// regular rows, as before histories were made).
    func makeRegulars() -> [Regular] {
        guard options.historyDays > 0 else { return [] }
        return (0..<population.people).map { Regular(population.person($0), seed: options.seed, historyDays: options.historyDays) }
    }

    /// The history files: every regular row reported before the first day.
    func writeHistory() throws {
        guard options.historyDays > 0 else { return }
        let dayBefore = date(-1).compact
        let tax = try open("tax-\(dayBefore).csv", gzip: false, gb18030: true)
        try tax.write(Self.taxHeader)
        let commerce = try open("commerce-\(dayBefore).csv", gzip: false)
        try commerce.write(Self.commerceHeader)
        for due in (-options.historyDays - Regular.reportLag)..<(-Regular.reportLag) {
            try writeRegular(dueDay: due, tax: tax, commerce: commerce)
        }
        try tax.finish()
        try commerce.finish()
    }

    /// The regular rows due on `dueDay` (days from the first day), into the given files.
    func writeRegular(dueDay: Int, tax: FeedFile?, commerce: FeedFile?) throws {
        let due = date(dueDay)
        for p in regulars.indices {
            let r = regulars[p]
            if let tax, let from = r.taxFrom, dueDay >= from, due.day == r.taxDay {
                try taxRow(population.person(p), regular: r, due: due, into: tax)
            }
            if let commerce, let from = r.instalmentsFrom, dueDay >= from, due.day == r.instalmentDay {
                try instalmentRow(population.person(p), regular: r, dueDay: dueDay, into: commerce)
            }
        }
    }

    func taxRow(_ person: Population.Person, regular: Regular, due: CivilDate, into file: FeedFile) throws {
        var rng = SplitMix(seed: options.seed, 17, UInt64(person.index), UInt64(bitPattern: Int64(due.daysSinceEpoch)))
        var status = "paid"
        var paid: CivilDate? = due.adding(days: -rng.below(10))
        var amountPaid = regular.amountFen
        if rng.chance(regular.missRate) {
            if rng.chance(0.85) {
                status = "late"; paid = due.adding(days: 1 + rng.below(Regular.reportLag - 1))
            } else {
                status = "arrears"; paid = nil; amountPaid = Int64(rng.below(Int(regular.amountFen)))
            }
        }
        let period = due.adding(days: -due.day)   // the month before the due month
        let row = file.row
        row.append("TR"); row.appendPadded(due.year, width: 4); row.appendPadded(due.month, width: 2)
        row.appendPadded(person.index, width: 8); row.append(UInt8(ascii: ","))
        row.append(person.rid); row.append(",person,")
        row.appendCSVField(person.name); row.append(UInt8(ascii: ","))
        row.appendCSVField(rng.pick(Vocabulary.taxOffices)); row.append(UInt8(ascii: ","))
        row.appendPadded(period.year, width: 4); row.append(UInt8(ascii: "-")); row.appendPadded(period.month, width: 2)
        row.append(",iit,"); row.appendDate(due); row.append(UInt8(ascii: ","))
        if let paid { row.appendDate(paid) }
        row.append(UInt8(ascii: ","))
        row.appendYuan(fen: regular.amountFen); row.append(UInt8(ascii: ","))
        row.appendYuan(fen: amountPaid); row.append(UInt8(ascii: ","))
        row.append(status); row.append("\r\n")
        try file.commitRow()
        summary.rows += 1
    }

    func instalmentRow(_ person: Population.Person, regular: Regular, dueDay: Int, into file: FeedFile) throws {
        guard let account = person.account else { return }
        let due = date(dueDay)
        var rng = SplitMix(seed: options.seed, 18, UInt64(person.index), UInt64(bitPattern: Int64(due.daysSinceEpoch)))
        var payment = "on-time"
        if rng.chance(regular.missRate) { payment = rng.chance(0.9) ? "late" : "default" }
        // The rid is given once the account is verified (before the first day: verified day ≤ 0).
        let verified = account.verifiedDay.map { $0 <= max(dueDay + Regular.reportLag, 0) } ?? false
        let row = file.row
        row.append("I"); row.appendPadded(due.year, width: 4); row.appendPadded(due.month, width: 2)
        row.appendPadded(person.index, width: 8); row.append(UInt8(ascii: ","))
        row.append(account.id); row.append(UInt8(ascii: ","))
        if verified { row.append(person.rid) }
        row.append(UInt8(ascii: ","))
        row.appendLocalTime(localMidnight(dueDay) + 10 * 3600 + Int64(rng.below(3600))); row.append("+08:00,")
        row.append("instalment,")
        row.appendYuan(fen: regular.amountFen / 4); row.append(UInt8(ascii: ","))
        row.append(payment); row.append(UInt8(ascii: ","))
        row.appendCSVField(rng.pick(Vocabulary.devices)); row.append(UInt8(ascii: "\n"))
        try file.commitRow()
        summary.rows += 1
    }
}
