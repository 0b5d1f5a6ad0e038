import TallyCore
import TallyIO

/// What tally-synth is asked to make.
public struct SynthOptions: Sendable {
    public var people: Int
    public var days: Int
    public var start: CivilDate
    public var seed: UInt64
    public var outDirectory: String
    /// The chance that a row carries one deliberate fault (recorded in truth.jsonl).
    public var dirtyRate: Double
    /// Court judgments per person per day (0.0004: a few a day for a town of 10,000).
    public var courtRate: Double
    /// Days of regular monthly payments (tax, instalments) before the first day; 0 for none
    /// (see `Regular`).
    public var historyDays = 0

    public init(people: Int, days: Int, start: CivilDate, seed: UInt64, outDirectory: String, dirtyRate: Double, courtRate: Double = 0.0004) {
        self.courtRate = courtRate
        self.people = people
        self.days = days
        self.start = start
        self.seed = seed
        self.outDirectory = outDirectory
        self.dirtyRate = dirtyRate
    }
}

/// Counts of what a run wrote, for its summary line.
public struct SynthSummary: Sendable {
    public var files = 0
    public var rows = 0
    public var dirtyRows = 0
}

/// Writes every feed of docs/feeds.md for a synthetic population, day by day, plus `people.csv` and
/// `truth.jsonl`. The same options give byte-identical files; memory does not grow with days
/// (the lists that corrections and revocations draw earlier records from are bounded).
public final class Synthesizer {
    let options: SynthOptions
    let population: Population
    /// Every person's regular obligations (empty without a history).
    var regulars: [Regular] = []
    private var truth: OutputSink!
    var summary = SynthSummary()
    /// Recent adverse records that corrections may address: (source, natural key).
    private var recentEvents = Ring<(String, String)>(capacity: 8192)
    private var openDisputes = Ring<(String, String)>(capacity: 4096)
    private var retracted = Ring<(String, String)>(capacity: 4096)
    /// Recent clean judgments that a court may revoke.
    private var recentJudgments = Ring<Judgment>(capacity: 2048)

    public init(_ options: SynthOptions) {
        self.options = options
        population = Population(seed: options.seed, people: options.people, days: options.days, start: options.start)
    }

    /// Writes everything; returns what was written.
    public func run() throws -> SynthSummary {
        truth = try OutputSink.create(options.outDirectory + "/truth.jsonl")
        try writePeople()
        regulars = makeRegulars()
        try writeHistory()
        for day in 0..<options.days {
            try writeCrosswalk(day: day)
            try writeCourt(day: day)
            try writeTax(day: day)
            try writeTransit(day: day)
            try writeCommerce(day: day)
            try writeCorrections(day: day)
        }
        try truth.finish()
        return summary
    }

    func date(_ day: Int) -> CivilDate { options.start.adding(days: day) }

    /// Local midnight (China Standard Time) of `day`, as seconds in local time.
    func localMidnight(_ day: Int) -> Int64 { Int64(date(day).daysSinceEpoch) * 86_400 }

    // MARK: - Faults

    /// Picks a fault for the next row (or none), from `fields`.
    func fault(_ rng: inout SplitMix, _ fields: [String]) -> String? {
        guard options.dirtyRate > 0, rng.chance(options.dirtyRate) else { return nil }
        return rng.pick(fields)
    }

    func recordFault(_ file: FeedFile, line: Int, field: String, fault: String) throws {
        let b = truth.buffer
        b.append("{\"file\":"); b.appendJSONString(file.name)
        b.append(",\"line\":"); b.appendDecimal(Int64(line))
        b.append(",\"field\":"); b.appendJSONString(field)
        b.append(",\"fault\":"); b.appendJSONString(fault)
        b.append("}\n")
        try truth.flushIfFull()
        summary.dirtyRows += 1
    }

    /// A resident identity number with a wrong check character.
    static func breakCheck(_ id: String) -> String {
        var chars = Array(id.utf8)
        let last = chars[chars.count - 1]
        let options = Array("0123456789X".utf8).filter { $0 != last }
        chars[chars.count - 1] = options[Int(chars[0..<17].reduce(0) { $0 &+ Int($1) }) % options.count]
        return String(decoding: chars, as: UTF8.self)
    }

    /// A USCC with a wrong check character.
    static func breakUSCCCheck(_ id: String) -> String {
        var chars = Array(id.utf8)
        let last = chars[17]
        chars[17] = Identifier.usccAlphabet.first { $0 != last }!
        return String(decoding: chars, as: UTF8.self)
    }

    func open(_ name: String, gzip: Bool, gb18030: Bool = false, level: Int32 = 6) throws -> FeedFile {
        summary.files += 1
        return try FeedFile(directory: options.outDirectory, name: name, gzip: gzip, gb18030: gb18030, level: level)
    }

    // MARK: - people.csv

    private func writePeople() throws {
        let file = try open("people.csv", gzip: false)
        try file.write("kind,person,name,scheme,id,crosswalk_from\n")
        let row = file.row
        func line(_ kind: StaticString, _ person: String, _ name: String, _ scheme: StaticString, _ id: String, _ from: Int?) throws {
            row.append(kind); row.append(UInt8(ascii: ","))
            row.append(person); row.append(UInt8(ascii: ","))
            row.appendCSVField(name); row.append(UInt8(ascii: ","))
            row.append(scheme); row.append(UInt8(ascii: ","))
            row.append(id); row.append(UInt8(ascii: ","))
            if let from { row.appendDate(date(max(from, 0))) }
            row.append(UInt8(ascii: "\n"))
            try file.commitRow()
        }
        for p in 0..<population.people {
            let person = population.person(p)
            try line("person", person.rid, person.name, "cn-rid", person.rid, nil)
            for card in person.cards { try line("person", person.rid, person.name, "transit-card", card.id, card.day) }
            if let account = person.account { try line("person", person.rid, person.name, "shop-account", account.id, account.verifiedDay) }
        }
        for o in 0..<population.organisations {
            let org = population.organisation(o)
            try line("organisation", org.uscc, org.name, "cn-uscc", org.uscc, nil)
        }
        try file.finish()
    }

    // MARK: - crosswalk

    private func writeCrosswalk(day: Int) throws {
        var rng = SplitMix(seed: options.seed, 10, UInt64(day))
        let file = try open("crosswalk-\(date(day).compact).csv", gzip: false)
        try file.write("scheme,id,person\n")
        let row = file.row
        func emit(_ scheme: StaticString, _ id: String, _ person: String) throws {
            let bad = fault(&rng, ["id", "person"])
            row.append(scheme); row.append(UInt8(ascii: ","))
            row.append(bad == "id" ? String(id.dropLast()) : id); row.append(UInt8(ascii: ","))
            row.append(bad == "person" ? Synthesizer.breakCheck(person) : person); row.append(UInt8(ascii: "\n"))
            if let bad {
                try recordFault(file, line: file.line, field: bad, fault: bad == "id" ? "identifier too short" : "check character wrong")
            }
            try file.commitRow()
            summary.rows += 1
        }
        for p in 0..<population.people {
            let person = population.person(p)
            for card in person.cards where card.day == day || (day == 0 && card.day <= 0) {
                try emit("transit-card", card.id, person.rid)
            }
            if let account = person.account, let verified = account.verifiedDay, verified == day || (day == 0 && verified <= 0) {
                try emit("shop-account", account.id, person.rid)
            }
        }
        try file.finish()
    }

    // MARK: - court

    struct Judgment {
        var courtCode: String
        var courtName: String
        var caseNumber: String
        var debtorKind: String
        var debtorName: String
        var scheme: String
        var id: String
        var filed: CivilDate
        var amountFen: Int64?
        var category: String
        var obligation: String
    }

    private func writeCourt(day: Int) throws {
        var rng = SplitMix(seed: options.seed, 11, UInt64(day))
        let gb = day % 7 == 3
        let gzip = day % 3 == 1
        let file = try open("court-\(date(day).compact).xml\(gzip ? ".gz" : "")", gzip: gzip, gb18030: gb)
        let published = date(day)
        try file.write("<?xml version=\"1.0\" encoding=\"\(gb ? "GB18030" : "UTF-8")\"?>\n")
        try file.write("<judgments xmlns=\"urn:tally:feed:court:1\" generated=\"\(date(day))T23:00:00+08:00\">\n")
        let count = rng.count(mean: Double(population.people) * options.courtRate)
        for j in 0..<count {
            var judgment: Judgment
            var status: String
            // A judgment is revoked at most once: it leaves the pool it was drawn from.
            if rng.chance(0.04), let earlier = recentJudgments.removeRandom(&rng) {
                judgment = earlier
                status = "revoked"
            } else {
                judgment = makeJudgment(&rng, day: day, serial: j)
                let roll = rng.below(100)
                status = roll < 70 ? "unperformed" : (roll < 85 ? "partially-performed" : "performed")
            }
            let bad = fault(&rng, ["debtor/id", "amount", "published", "category", "status"])
            let row = file.row
            row.append("  <judgment case=\""); row.appendXMLText(judgment.caseNumber); row.append("\">\n")
            row.append("    <court code=\""); row.append(judgment.courtCode); row.append("\">")
            row.appendXMLText(judgment.courtName); row.append("</court>\n")
            row.append("    <debtor kind=\""); row.append(judgment.debtorKind); row.append("\"><name>")
            row.appendXMLText(judgment.debtorName); row.append("</name><id scheme=\""); row.append(judgment.scheme); row.append("\">")
            if bad == "debtor/id" {
                row.append(judgment.scheme == "cn-rid" ? Synthesizer.breakCheck(judgment.id) : Synthesizer.breakUSCCCheck(judgment.id))
            } else {
                row.append(judgment.id)
            }
            row.append("</id></debtor>\n")
            row.append("    <filed>"); row.appendDate(judgment.filed); row.append("</filed>\n")
            row.append("    <published>")
            if bad == "published" {
                row.appendPadded(published.year, width: 4); row.append("-02-30")
            } else {
                row.appendDate(published)
            }
            row.append("</published>\n")
            row.append("    <obligation>")
            if rng.chance(0.2) {
                row.append("<![CDATA["); row.append(judgment.obligation); row.append("]]>")
            } else {
                row.appendXMLText(judgment.obligation)
            }
            row.append("</obligation>\n")
            if let amount = judgment.amountFen {
                row.append("    <amount currency=\"CNY\">")
                row.appendYuan(fen: amount)
                if bad == "amount" { row.append("5") }
                row.append("</amount>\n")
            } else if bad == "amount" {
                row.append("    <amount currency=\"CNY\">12.345</amount>\n")
            }
            row.append("    <category>"); row.append(bad == "category" ? "dishonest" : judgment.category); row.append("</category>\n")
            row.append("    <status>"); row.append(bad == "status" ? "pending" : status); row.append("</status>\n")
            row.append("  </judgment>\n")
            if let bad {
                let what = ["debtor/id": "check character wrong", "amount": "three decimals", "published": "not a calendar date",
                            "category": "not an allowed value", "status": "not an allowed value"][bad]!
                try recordFault(file, line: file.line, field: bad, fault: what)
            } else if status != "revoked" {
                recentJudgments.append(judgment)
                recentEvents.append(("court", judgment.courtCode + "|" + judgment.caseNumber))
            }
            try file.commitRow()
            summary.rows += 1
        }
        try file.write("</judgments>\n")
        try file.finish()
    }

    private func makeJudgment(_ rng: inout SplitMix, day: Int, serial: Int) -> Judgment {
        let courtIndex = rng.below(Vocabulary.courtPlaces.count)
        let courtCode = String(990_101 + courtIndex)
        let published = date(day)
        let caseNumber = "(\(published.year))\(Vocabulary.provinceMarks[courtIndex])\(courtCode.suffix(4))执\(day * 10_000_000 + serial + 1)号"
        let isOrg = rng.chance(0.3)
        let name: String, scheme: String, id: String
        if isOrg {
            let org = population.organisation(rng.below(population.organisations))
            (name, scheme, id) = (org.name, "cn-uscc", org.uscc)
        } else {
            let person = riskyPerson(&rng)
            (name, scheme, id) = (person.name, "cn-rid", person.rid)
        }
        let amount: Int64? = rng.chance(0.8) ? Int64(rng.within(100_000...500_000_000)) : nil
        return Judgment(courtCode: courtCode, courtName: Vocabulary.courtPlaces[courtIndex] + "人民法院", caseNumber: caseNumber,
                        debtorKind: isOrg ? "organisation" : "person", debtorName: name, scheme: scheme, id: id,
                        filed: published.adding(days: -rng.within(30...400)), amountFen: amount,
                        category: rng.chance(0.7) ? "dishonest-debtor" : "consumption-restriction",
                        obligation: rng.pick(Vocabulary.obligations))
    }

    /// A person drawn with probability proportional to their risk.
    func riskyPerson(_ rng: inout SplitMix) -> Population.Person {
        while true {
            let person = population.person(rng.below(population.people))
            if rng.chance(person.risk / 10) { return person }
        }
    }

    // MARK: - tax

    static let taxHeader = "record_no,taxpayer_id,taxpayer_kind,taxpayer_name,tax_office,period,tax_type,due_date,paid_date,amount_due,amount_paid,status\r\n"
    static let commerceHeader = "order_id,account_id,rid,placed_at,category,amount,payment,device\n"

    private func writeTax(day: Int) throws {
        var rng = SplitMix(seed: options.seed, 12, UInt64(day))
        let bom = day % 5 == 2
        let gzip = day % 4 == 3
        let file = try open("tax-\(date(day).compact).csv\(gzip ? ".gz" : "")", gzip: gzip, gb18030: !bom)
        if bom { try file.write("\u{FEFF}") }
        try file.write(Self.taxHeader)
        let today = date(day)
        let count = rng.count(mean: Double(population.people) * 0.01)
        let row = file.row
        for r in 0..<count {
            let isOrg = rng.chance(0.25)
            let id: String, name: String, badChance: Double
            if isOrg {
                let org = population.organisation(rng.below(population.organisations))
                (id, name, badChance) = (org.uscc, org.name, 0.1)
            } else {
                let person = population.person(rng.below(population.people))
                (id, name, badChance) = (person.rid, person.name, min(0.05 * person.risk, 0.9))
            }
            var status = "paid"
            if rng.chance(badChance) {
                let roll = rng.below(100)
                status = roll < 55 ? "late" : (roll < 90 ? "arrears" : "evasion")
            }
            let due = today.adding(days: -(1 + rng.below(90)))
            let periodDate = due.adding(days: -20)
            let amountDue = Int64(rng.within(10_000...5_000_000))
            var paid: CivilDate?
            var amountPaid = amountDue
            switch status {
            case "paid": paid = due.adding(days: -rng.below(20))
            case "late": paid = due.adding(days: 1 + rng.below(today.daysSinceEpoch - due.daysSinceEpoch))
            case "arrears": amountPaid = Int64(rng.below(Int(amountDue)))
            default: amountPaid = 0
            }
            let recordNumber = "TX\(today.compact)\(String(r + 1).leftPadded(6))"
            let bad = fault(&rng, ["taxpayer_id", "period", "due_date", "amount_due", "status"])
            row.append(recordNumber); row.append(UInt8(ascii: ","))
            row.append(bad == "taxpayer_id" ? (isOrg ? Synthesizer.breakUSCCCheck(id) : Synthesizer.breakCheck(id)) : id)
            row.append(UInt8(ascii: ","))
            row.append(isOrg ? "organisation" : "person"); row.append(UInt8(ascii: ","))
            row.appendCSVField(name); row.append(UInt8(ascii: ","))
            row.appendCSVField(rng.pick(Vocabulary.taxOffices)); row.append(UInt8(ascii: ","))
            row.appendPadded(periodDate.year, width: 4); row.append(UInt8(ascii: "-"))
            row.appendPadded(bad == "period" ? 13 : periodDate.month, width: 2); row.append(UInt8(ascii: ","))
            row.append(rng.pick(["iit", "vat", "cit", "property", "other"])); row.append(UInt8(ascii: ","))
            if bad == "due_date" { row.appendPadded(due.year, width: 4); row.append("-13-01") } else { row.appendDate(due) }
            row.append(UInt8(ascii: ","))
            if let paid { row.appendDate(paid) }
            row.append(UInt8(ascii: ","))
            row.appendYuan(fen: amountDue)
            if bad == "amount_due" { row.append("5") }
            row.append(UInt8(ascii: ","))
            row.appendYuan(fen: amountPaid); row.append(UInt8(ascii: ","))
            row.append(bad == "status" ? "overdue" : status); row.append("\r\n")
            if let bad {
                let what = ["taxpayer_id": "check character wrong", "period": "month 13", "due_date": "month 13",
                            "amount_due": "three decimals", "status": "not an allowed value"][bad]!
                try recordFault(file, line: file.line, field: bad, fault: what)
            } else if status != "paid" {
                recentEvents.append(("tax", recordNumber))
            }
            try file.commitRow()
            summary.rows += 1
        }
        try writeRegular(dueDay: day - Regular.reportLag, tax: file, commerce: nil)
        try file.finish()
    }

    // MARK: - transit

    private func writeTransit(day: Int) throws {
        var rng = SplitMix(seed: options.seed, 13, UInt64(day))
        // The high-volume feed is compressed at level 1: level 6 took most of the run for 4x the time.
        let file = try open("transit-\(date(day).compact).csv.gz", gzip: true, level: 1)
        try file.write("event_id,card_id,rid,line,station_in,station_out,tap_in,tap_out,fare_fen,paid_fen,flag\n")
        let rides = population.people
        let midnight = localMidnight(day)
        let stamp = date(day).compact
        let row = file.row
        for i in 0..<rides {
            var card: String
            var rid = ""
            var risk = 0.5
            if rng.chance(0.85), case let person = population.person(rng.below(population.people)),
               let registered = person.cards.filter({ $0.day <= day }).first {
                card = registered.id
                rid = person.rid
                risk = person.risk
            } else {
                card = population.anonymousCard(rng.below(population.anonymousCards))
            }
            let tapIn = midnight + 5 * 3600 + Int64(i) * 19 * 3600 / Int64(max(rides, 1)) + Int64(rng.below(30))
            let tapOut = tapIn + Int64(rng.within(300...5400))
            let fare = 200 + 100 * rng.below(8)
            var paid = fare
            var flag = ""
            if rng.chance(0.02 * risk) {
                let roll = rng.below(10)
                if roll < 5 { flag = "fare-evasion"; paid = fare - 100 * (1 + rng.below(fare / 100 - 1)) }
                else if roll < 7 { flag = "turnstile-jump"; paid = 0 }
                else { flag = "no-tap-out" }
            }
            var faults = ["card_id", "tap_in", "fare_fen", "flag"]
            if !rid.isEmpty { faults.append("rid") }
            let bad = fault(&rng, faults)
            row.append(stamp); row.appendPadded(i + 1, width: 9); row.append(UInt8(ascii: ","))
            row.append(bad == "card_id" ? String(card.dropLast()) : card); row.append(UInt8(ascii: ","))
            row.append(bad == "rid" ? Synthesizer.breakCheck(rid) : rid); row.append(UInt8(ascii: ","))
            row.appendDecimal(Int64(1 + rng.below(Vocabulary.lines))); row.append(UInt8(ascii: ","))
            row.appendPadded(rng.below(Vocabulary.stations), width: 4); row.append(UInt8(ascii: ","))
            row.appendPadded(rng.below(Vocabulary.stations), width: 4); row.append(UInt8(ascii: ","))
            if bad == "tap_in" {
                row.appendPadded(date(day).year, width: 4); row.append("-02-30T08:00:00")
            } else {
                row.appendLocalTime(tapIn)
            }
            row.append(UInt8(ascii: ","))
            if flag != "no-tap-out" { row.appendLocalTime(tapOut) }
            row.append(UInt8(ascii: ","))
            if bad == "fare_fen" { row.append("12.5") } else { row.appendDecimal(Int64(fare)) }
            row.append(UInt8(ascii: ","))
            row.appendDecimal(Int64(paid)); row.append(UInt8(ascii: ","))
            row.append(bad == "flag" ? "jump" : flag); row.append(UInt8(ascii: "\n"))
            if let bad {
                let what = ["card_id": "15 digits", "rid": "check character wrong", "tap_in": "not a calendar date",
                            "fare_fen": "not an integer", "flag": "not an allowed value"][bad]!
                try recordFault(file, line: file.line, field: bad, fault: what)
            } else if !flag.isEmpty {
                var key = stamp
                key += String(i + 1).leftPadded(9)
                recentEvents.append(("transit", key))
            }
            try file.commitRow()
            summary.rows += 1
        }
        try file.finish()
    }

    // MARK: - commerce

    private func writeCommerce(day: Int) throws {
        var rng = SplitMix(seed: options.seed, 14, UInt64(day))
        let gzip = day % 6 == 5
        let file = try open("commerce-\(date(day).compact).csv\(gzip ? ".gz" : "")", gzip: gzip)
        try file.write(Self.commerceHeader)
        let count = rng.count(mean: Double(population.people) * 0.05)
        let midnight = localMidnight(day)
        let row = file.row
        var written = 0
        while written < count {
            let person = population.person(rng.below(population.people))
            guard let account = person.account else { continue }
            let verified = account.verifiedDay.map { $0 <= day } ?? false
            var payment = "on-time"
            if rng.chance(min(0.02 * person.risk, 0.9)) {
                let roll = rng.below(10)
                payment = roll < 6 ? "late" : (roll < 9 ? "default" : "chargeback")
            }
            let orderID = "O\(date(day).compact)\(String(written + 1).leftPadded(8))"
            let rid = verified ? person.rid : ""
            var faults = ["account_id", "placed_at", "amount", "payment"]
            if !rid.isEmpty { faults.append("rid") }
            let bad = fault(&rng, faults)
            row.append(orderID); row.append(UInt8(ascii: ","))
            row.append(bad == "account_id" ? "B" + account.id.dropFirst() : account.id); row.append(UInt8(ascii: ","))
            row.append(bad == "rid" ? Synthesizer.breakCheck(rid) : rid); row.append(UInt8(ascii: ","))
            row.appendLocalTime(midnight + Int64(rng.below(86_400)))
            if bad != "placed_at" { row.append("+08:00") }
            row.append(UInt8(ascii: ","))
            row.appendCSVField(rng.pick(Vocabulary.shopCategories)); row.append(UInt8(ascii: ","))
            if bad == "amount" { row.append("12.345") } else { row.appendYuan(fen: Int64(rng.within(100...500_000))) }
            row.append(UInt8(ascii: ","))
            row.append(bad == "payment" ? "sometimes" : payment); row.append(UInt8(ascii: ","))
            row.appendCSVField(rng.pick(Vocabulary.devices)); row.append(UInt8(ascii: "\n"))
            if let bad {
                let what = ["account_id": "does not start with A", "rid": "check character wrong", "placed_at": "no UTC offset",
                            "amount": "three decimals", "payment": "not an allowed value"][bad]!
                try recordFault(file, line: file.line, field: bad, fault: what)
            } else if payment != "on-time" {
                recentEvents.append(("commerce", orderID))
            }
            try file.commitRow()
            written += 1
            summary.rows += 1
        }
        try writeRegular(dueDay: day - Regular.reportLag, tax: nil, commerce: file)
        try file.finish()
    }

    // MARK: - corrections

    private func writeCorrections(day: Int) throws {
        var rng = SplitMix(seed: options.seed, 15, UInt64(day))
        let file = try open("corrections-\(date(day).compact).csv", gzip: false)
        try file.write("source,natural_key,action,reason,decided_at\n")
        let count = rng.count(mean: Double(population.people) * 0.0005)
        let midnight = localMidnight(day)
        let row = file.row
        for _ in 0..<count {
            let roll = rng.below(100)
            var action: String
            var target: (String, String)
            if roll < 10, let t = retracted.removeRandom(&rng) {
                action = "reinstate"; target = t
            } else if roll < 55, let t = openDisputes.removeRandom(&rng) {
                action = rng.chance(0.5) ? "uphold" : "retract"; target = t
            } else if let t = recentEvents.randomElement(&rng) {
                action = "dispute"; target = t
            } else {
                continue
            }
            let bad = fault(&rng, ["action", "decided_at"])
            row.appendCSVField(target.0); row.append(UInt8(ascii: ","))
            row.appendCSVField(target.1); row.append(UInt8(ascii: ","))
            row.append(bad == "action" ? "maybe" : action); row.append(UInt8(ascii: ","))
            row.appendCSVField(rng.pick(Vocabulary.disputeReasons)); row.append(UInt8(ascii: ","))
            row.appendLocalTime(midnight + 9 * 3600 + Int64(rng.below(9 * 3600)))
            if bad != "decided_at" { row.append("+08:00") }
            row.append(UInt8(ascii: "\n"))
            if let bad {
                try recordFault(file, line: file.line, field: bad, fault: bad == "action" ? "not an allowed value" : "no UTC offset")
            } else {
                switch action {
                case "dispute": openDisputes.append(target)
                case "retract": retracted.append(target)
                default: break
                }
            }
            try file.commitRow()
            summary.rows += 1
        }
        try file.finish()
    }
}

/// A bounded list that forgets its oldest entries, so memory does not grow with days.
struct Ring<T> {
    private var items: [T] = []
    private var next = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    mutating func append(_ item: T) {
        if items.count < capacity { items.append(item) } else { items[next] = item; next = (next + 1) % capacity }
    }

    func randomElement(_ rng: inout SplitMix) -> T? { items.isEmpty ? nil : items[rng.below(items.count)] }

    mutating func removeRandom(_ rng: inout SplitMix) -> T? {
        guard !items.isEmpty else { return nil }
        let i = rng.below(items.count)
        let item = items[i]
        items.swapAt(i, items.count - 1)
        items.removeLast()
        // No longer full: appends go to the end until it is, then overwrite from the start.
        next = 0
        return item
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
