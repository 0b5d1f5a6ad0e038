import TallyCore

/// The synthetic population: people and organisations derived from the seed and their index, so
/// nothing about them needs to be stored. Identifiers are valid by checksum but use region codes
/// beginning `99`, which belong to no real county: no generated number is a real person's.
struct Population {
    let seed: UInt64
    let people: Int
    let organisations: Int
    let anonymousCards: Int
    let days: Int
    let start: CivilDate

    init(seed: UInt64, people: Int, days: Int, start: CivilDate) {
        self.seed = seed
        self.people = people
        self.organisations = max(people / 50, 5)
        self.anonymousCards = max(people / 5, 5)
        self.days = days
        self.start = start
    }

    /// Everything known about one person.
    struct Person {
        let index: Int
        let rid: String
        let name: String
        /// Score-relevant behaviour: most people 0.1, some 2, a few 10.
        let risk: Double
        /// Registered transit cards and the day (0-based; ≤ 0 means before the run) each is registered.
        let cards: [(id: String, day: Int)]
        /// The shop account, if any, and the day it is verified (nil: never verified).
        let account: (id: String, verifiedDay: Int?)?
    }

    struct Organisation {
        let index: Int
        let uscc: String
        let name: String
    }

    func person(_ p: Int) -> Person {
        var rng = SplitMix(seed: seed, 1, UInt64(p))
        // Region 99xxxx and sequence make the number unique for p < 10^7; the birth date's low
        // bits carry p / 10^7 beyond that.
        let region = 990_000 + p % 10_000
        let sequence = (p / 10_000) % 1000
        let highPart = p / 10_000_000
        let birthSpan = 56 * 365
        let birthOffset = (rng.below(birthSpan / 64) * 64 + highPart % 64)
        let birth = CivilDate(year: 1950, month: 1, day: 1)!.adding(days: birthOffset)
        let rid = Population.residentID(region: region, birth: birth, sequence: sequence)
        let name = rng.pick(Vocabulary.surnames) + rng.pick(Vocabulary.givenNames)
        let roll = rng.below(100)
        let risk = roll < 90 ? 0.1 : (roll < 98 ? 2.0 : 10.0)
        let cardRoll = rng.below(100)
        let cardCount = cardRoll < 20 ? 0 : (cardRoll < 90 ? 1 : 2)
        var cards: [(String, Int)] = []
        for k in 0..<cardCount {
            let day = rng.chance(0.05) ? rng.within(1...max(days - 1, 1)) : 0
            cards.append((Population.cardNumber(p * 4 + k), day))
        }
        var account: (String, Int?)?
        if rng.chance(0.6) {
            let verified: Int? = rng.chance(0.7) ? (rng.chance(0.05) ? rng.within(1...max(days - 1, 1)) : 0) : nil
            account = (Population.accountNumber(p), verified)
        }
        return Person(index: p, rid: rid, name: name, risk: risk, cards: cards, account: account)
    }

    func organisation(_ o: Int) -> Organisation {
        var rng = SplitMix(seed: seed, 2, UInt64(o))
        let name = rng.pick(Vocabulary.orgPrefixes) + rng.pick(Vocabulary.orgSuffixes)
        return Organisation(index: o, uscc: Population.socialCreditCode(o), name: name)
    }

    /// An anonymous card (registered to nobody).
    func anonymousCard(_ a: Int) -> String { Population.cardNumber(people * 4 + a) }

    static func residentID(region: Int, birth: CivilDate, sequence: Int) -> String {
        let out = ByteBuffer(capacity: 32)
        out.appendPadded(region, width: 6)
        out.appendPadded(birth.year, width: 4); out.appendPadded(birth.month, width: 2); out.appendPadded(birth.day, width: 2)
        out.appendPadded(sequence, width: 3)
        let check = Identifier.residentIDCheck(UnsafeRawBufferPointer(start: out.base, count: 17))
        out.append(check)
        return out.string
    }

    /// 16 digits, a bijection of `n` modulo 10^15 behind a leading 8: unique and scattered.
    static func cardNumber(_ n: Int) -> String {
        let m: UInt64 = 1_000_000_000_000_000
        let scrambled = (UInt64(n) &* 387_420_489) % m
        let out = ByteBuffer(capacity: 32)
        out.append(UInt8(ascii: "8"))
        out.appendPadded(Int(scrambled), width: 15)
        return out.string
    }

    /// `A` and 10 digits, a bijection of `n` modulo 10^10.
    static func accountNumber(_ n: Int) -> String {
        let m: UInt64 = 10_000_000_000
        let scrambled = (UInt64(n) &* 1_594_323) % m
        let out = ByteBuffer(capacity: 16)
        out.append(UInt8(ascii: "A"))
        out.appendPadded(Int(scrambled), width: 10)
        return out.string
    }

    /// `91` (a company), region `99xxxx`, a 9-character organisation code, and the check character.
    static func socialCreditCode(_ o: Int) -> String {
        var chars: [UInt8] = Array("91".utf8)
        let out = ByteBuffer(capacity: 8)
        out.appendPadded(990_000 + o % 10_000, width: 6)
        chars += out.bytes
        var code = UInt64(o) &* 2_654_435_761 % 26_439_622_160_671 // 31^9
        var body = [UInt8](repeating: 0, count: 9)
        for i in (0..<9).reversed() {
            body[i] = Identifier.usccAlphabet[Int(code % 31)]
            code /= 31
        }
        chars += body
        let check = chars.withUnsafeBytes { Identifier.usccCheck($0)! }
        chars.append(check)
        return String(decoding: chars, as: UTF8.self)
    }
}
