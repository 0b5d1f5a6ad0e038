/// Words tally-synth builds names and texts from. Every name is made up from these lists.
enum Vocabulary {
    static let surnames = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "高"]
    static let givenNames = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "霞", "平", "刚", "桂英", "建华", "晓东"]
    static let orgPrefixes = ["星河", "远山", "青禾", "北辰", "东篱", "白鹭", "金石", "长风", "云帆", "松涛"]
    static let orgSuffixes = ["科技有限公司", "贸易有限公司", "餐饮管理有限公司", "建筑工程有限公司", "物流有限公司", "文化传媒有限公司"]
    static let courtPlaces = ["示例市第一", "示例市第二", "样本县", "虚构区", "模拟市高新区", "测试市中级"]
    static let provinceMarks = ["浙", "苏", "沪", "京", "粤", "川"]
    static let taxOffices = ["国家税务总局示例市第一税务分局", "国家税务总局样本县税务局", "国家税务总局虚构区税务局", "国家税务总局模拟市高新区税务局"]
    static let obligations = [
        "偿还借款本金及利息。",
        "Repay principal and interest of a private loan.",
        "支付货款 & 违约金 <按判决书>。",
        "Pay the arrears of rent \"as ordered\" & costs.",
        "返还不当得利款项，并承担诉讼费用。",
        "Compensate the plaintiff for losses; costs < 5% of the sum.",
    ]
    static let shopCategories = ["books", "groceries", "electronics", "Home, Garden", "toys & games", "clothing", "\"Outdoor\" gear", "pharmacy"]
    static let devices = ["Pixel 7, \"Pro\"", "iPhone 15", "Galaxy S24", "Mate 60 Pro\nbuild 42", "web", "MiPad, 6", "HarmonyOS tablet"]
    static let disputeReasons = [
        "identity theft reported by the subject",
        "payment made before due date, receipt supplied",
        "record belongs to another person with a similar name",
        "court revoked the order on appeal",
        "card was reported stolen, \"not me\"",
        "duplicate entry, same case filed twice",
    ]
    static let stations = 120
    static let lines = 16
}
