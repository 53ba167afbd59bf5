//! Static word lists the dimension tables are made of.
//!
//! Everything here is invented for the demo; cities are real places, but the tax rates are
//! round approximations of combined sales tax and no real shop is meant.

/// A city stores and customers live in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct City {
    pub name: &'static str,
    pub region: &'static str,
    /// Sales tax in ten-thousandths (825 = 8.25%).
    pub tax_bp: i128,
}

const fn city(name: &'static str, region: &'static str, tax_bp: i128) -> City {
    City {
        name,
        region,
        tax_bp,
    }
}

pub(crate) const CITIES: &[City] = &[
    city("Seattle", "West", 1025),
    city("Portland", "West", 0),
    city("San Francisco", "West", 863),
    city("Oakland", "West", 1025),
    city("San Jose", "West", 938),
    city("Los Angeles", "West", 950),
    city("San Diego", "West", 775),
    city("Sacramento", "West", 875),
    city("Las Vegas", "West", 838),
    city("Salt Lake City", "West", 775),
    city("Boise", "West", 600),
    city("Denver", "West", 881),
    city("Phoenix", "Southwest", 860),
    city("Tucson", "Southwest", 870),
    city("Albuquerque", "Southwest", 788),
    city("Austin", "Southwest", 825),
    city("Dallas", "Southwest", 825),
    city("Houston", "Southwest", 825),
    city("San Antonio", "Southwest", 825),
    city("Oklahoma City", "Southwest", 863),
    city("Chicago", "Midwest", 1025),
    city("Minneapolis", "Midwest", 903),
    city("Milwaukee", "Midwest", 790),
    city("Detroit", "Midwest", 600),
    city("Columbus", "Midwest", 775),
    city("Cleveland", "Midwest", 800),
    city("Indianapolis", "Midwest", 700),
    city("St. Louis", "Midwest", 918),
    city("Kansas City", "Midwest", 885),
    city("Omaha", "Midwest", 700),
    city("New York", "Northeast", 888),
    city("Brooklyn", "Northeast", 888),
    city("Boston", "Northeast", 625),
    city("Philadelphia", "Northeast", 800),
    city("Pittsburgh", "Northeast", 700),
    city("Newark", "Northeast", 663),
    city("Providence", "Northeast", 700),
    city("Hartford", "Northeast", 635),
    city("Baltimore", "Northeast", 600),
    city("Washington", "Northeast", 600),
    city("Atlanta", "Southeast", 890),
    city("Miami", "Southeast", 700),
    city("Orlando", "Southeast", 650),
    city("Tampa", "Southeast", 750),
    city("Charlotte", "Southeast", 725),
    city("Raleigh", "Southeast", 725),
    city("Nashville", "Southeast", 925),
    city("Memphis", "Southeast", 975),
    city("New Orleans", "Southeast", 945),
    city("Richmond", "Southeast", 600),
];

/// Second word of a store's name; with [`CITIES`] it gives 50 × 30 = 1,500 distinct stores.
#[rustfmt::skip]
pub(crate) const NEIGHBORHOODS: &[&str] = &[
    "Downtown", "Riverside", "Northgate", "Southpoint", "Eastside", "Westfield", "Midtown",
    "Uptown", "Harbor", "Lakeside", "Hillcrest", "Oak Park", "Pine Ridge", "Maple Grove",
    "Cedar Hills", "Old Town", "Market Square", "Union Station", "Airport", "University",
    "Parkside", "Bayview", "Meadows", "Crossroads", "Fairview", "Highland", "Springfield",
    "Brookside", "Greenway", "Canal Street",
];

#[rustfmt::skip]
pub(crate) const FIRST_NAMES: &[&str] = &[
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony",
    "Sandra", "Mark", "Margaret", "Donald", "Ashley", "Steven", "Kimberly", "Andrew", "Emily",
    "Paul", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian",
    "Melissa", "George", "Deborah", "Timothy", "Stephanie", "Ronald", "Rebecca", "Jason", "Laura",
    "Edward", "Sharon", "Jeffrey", "Cynthia", "Ryan", "Kathleen", "Jacob", "Amy", "Gary", "Angela",
    "Nicholas", "Shirley", "Eric", "Anna", "Jonathan", "Brenda", "Stephen", "Pamela", "Larry",
    "Emma", "Justin", "Nicole", "Scott", "Helen", "Brandon", "Samantha", "Benjamin", "Katherine",
    "Samuel", "Christine", "Gregory", "Debra", "Alexander", "Rachel", "Patrick", "Carolyn", "Frank",
    "Janet", "Raymond", "Maria", "Jack", "Olivia", "Dennis", "Heather", "Jerry", "Diane", "Tyler",
    "Julie", "Aaron", "Joyce", "Jose", "Victoria", "Adam", "Ruth", "Nathan", "Virginia", "Henry",
    "Lauren", "Zachary", "Kelly", "Douglas", "Christina", "Peter", "Joan", "Kyle", "Evelyn", "Noah",
    "Judith", "Ethan", "Andrea", "Jeremy", "Hannah", "Walter", "Megan", "Christian", "Cheryl",
    "Keith", "Jacqueline", "Roger", "Martha", "Terry", "Madison", "Austin", "Teresa", "Sean",
    "Gloria", "Gerald", "Sara", "Carl", "Janice", "Harold", "Ann", "Dylan", "Kathryn", "Arthur",
    "Abigail", "Lawrence", "Sophia", "Jordan", "Frances", "Jesse", "Jean", "Bryan", "Alice",
    "Billy", "Judy", "Bruce", "Isabella", "Gabriel", "Julia", "Joe", "Grace", "Logan", "Amber",
    "Alan", "Denise", "Juan", "Danielle", "Albert", "Marilyn", "Willie", "Beverly", "Elijah",
    "Charlotte", "Wayne", "Natalie", "Randy", "Theresa", "Vincent", "Diana", "Mason", "Brittany",
    "Roy", "Doris", "Ralph", "Kayla", "Bobby", "Alexis", "Russell", "Lori", "Bradley", "Marie",
    "Philip", "Aiko", "Eugene", "Priya", "Wei", "Mei", "Carlos", "Lucia", "Mateo", "Sofia", "Diego",
    "Valentina", "Omar", "Fatima", "Hiroshi", "Yuki", "Arjun", "Ananya", "Kwame", "Amara", "Liam",
    "Chloe",
];

#[rustfmt::skip]
pub(crate) const LAST_NAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
    "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres",
    "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
    "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker",
    "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook",
    "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly",
    "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez", "Wood",
    "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez", "Castillo",
    "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell", "Jenkins", "Perry",
    "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes", "Gonzales", "Fisher",
    "Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton", "Graham",
    "Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole", "Hayes", "Bryant", "Herrera",
    "Gibson", "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray", "Ford", "Castro",
    "Marshall", "Owens", "Harrison", "Fernandez", "Mcdonald", "Woods", "Washington", "Kennedy",
    "Wells", "Vargas", "Henry", "Chen", "Freeman", "Webb", "Tucker", "Guzman", "Burns", "Crawford",
    "Olson", "Simpson", "Porter", "Hunter", "Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason",
    "Dixon", "Munoz", "Hunt", "Hicks", "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd",
    "Rose", "Stone", "Salazar", "Fox", "Warren", "Mills", "Meyer", "Rice", "Schmidt", "Garza",
    "Daniels", "Ferguson", "Nichols", "Stephens", "Soto", "Weaver", "Ryan", "Gardner", "Payne",
    "Grant", "Dunn", "Kelley", "Spencer", "Hawkins", "Arnold", "Pierce", "Hansen", "Peters",
    "Santos", "Hart", "Bradley", "Knight", "Elliott", "Cunningham", "Duncan", "Armstrong", "Hudson",
    "Carroll", "Lane", "Riley", "Andrews", "Ray", "Berry", "Perkins", "Hoffman", "Johnston",
    "Matthews", "Pena", "Richards", "Wang", "Tanaka", "Singh", "Kowalski", "Novak", "Okafor",
    "Haddad", "Yamamoto", "Larsen", "Rossi",
];

#[rustfmt::skip]
pub(crate) const EMAIL_DOMAINS: &[&str] = &[
    "example.com", "example.net", "example.org", "mail.example", "inbox.example",
];

/// Loyalty tiers with their share of customers (per mille).
pub(crate) const LOYALTY_TIERS: &[(&str, u32)] = &[
    ("bronze", 550),
    ("silver", 280),
    ("gold", 130),
    ("platinum", 40),
];

/// A product category: its share of the catalog, price range and word lists.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Category {
    pub name: &'static str,
    /// Relative share of the catalog's products.
    pub weight: u32,
    /// Lowest and highest list price, in cents.
    pub price_cents: (i64, i64),
    pub brands: &'static [&'static str],
    pub items: &'static [&'static str],
    /// Sizes, packs or colours appended to the name.
    pub variants: &'static [&'static str],
}

/// Words put between brand and item in product names.
#[rustfmt::skip]
pub(crate) const ADJECTIVES: &[&str] = &[
    "Classic", "Premium", "Everyday", "Organic", "Deluxe", "Essential", "Pro", "Ultra", "Value",
    "Signature", "Family Size", "Compact", "Original", "Select", "Fresh", "Natural", "Smart",
    "Heritage", "Lite", "Max",
];

#[rustfmt::skip]
pub(crate) const CATEGORIES: &[Category] = &[
    Category {
        name: "Grocery",
        weight: 22,
        price_cents: (99, 2_499),
        brands: &[
            "Cymbal Kitchen", "Harvest Table", "Golden Acre", "Pantry Pride", "Nonna's",
        ],
        items: &[
            "Pasta", "Rice", "Cereal", "Peanut Butter", "Olive Oil", "Coffee", "Tea", "Granola",
            "Crackers", "Tomato Sauce", "Soup", "Flour", "Honey", "Salsa", "Chips",
        ],
        variants: &[
            "8 oz", "12 oz", "16 oz", "24 oz", "2 lb", "Family Pack", "Twin Pack",
        ],
    },
    Category {
        name: "Produce",
        weight: 8,
        price_cents: (49, 899),
        brands: &[
            "Green Valley", "Sunny Fields", "Cymbal Fresh", "Orchard Lane",
        ],
        items: &[
            "Apples", "Bananas", "Avocados", "Strawberries", "Spinach", "Carrots", "Tomatoes",
            "Onions", "Potatoes", "Blueberries", "Lemons", "Salad Mix",
        ],
        variants: &[
            "1 lb", "2 lb", "3 lb Bag", "Bunch", "Each", "Clamshell", "Organic Pack",
        ],
    },
    Category {
        name: "Dairy",
        weight: 7,
        price_cents: (99, 1_299),
        brands: &[
            "Meadow Gold", "Cymbal Creamery", "Alpine Farms", "Bluebell Dairy",
        ],
        items: &[
            "Milk", "Yogurt", "Cheddar", "Butter", "Eggs", "Cream Cheese", "Mozzarella",
            "Sour Cream", "Oat Milk", "Parmesan",
        ],
        variants: &[
            "Pint", "Quart", "Half Gallon", "Gallon", "8 oz", "16 oz", "Dozen",
        ],
    },
    Category {
        name: "Beverages",
        weight: 7,
        price_cents: (99, 2_999),
        brands: &[
            "Fizz & Co", "Clear Springs", "Cymbal Select", "Red Rock Brewing",
        ],
        items: &[
            "Sparkling Water", "Cola", "Orange Juice", "Iced Tea", "Energy Drink", "Lemonade",
            "Cold Brew", "Kombucha", "Sports Drink", "Coconut Water",
        ],
        variants: &[
            "12 fl oz", "1 L", "2 L", "6 Pack", "12 Pack", "24 Pack", "Gallon",
        ],
    },
    Category {
        name: "Household",
        weight: 8,
        price_cents: (199, 3_999),
        brands: &["BrightHome", "Cymbal Basics", "PureClean", "EcoNest"],
        items: &[
            "Laundry Detergent", "Dish Soap", "Paper Towels", "Trash Bags", "Sponges",
            "All-Purpose Cleaner", "Toilet Paper", "Light Bulbs", "Batteries", "Storage Bins",
        ],
        variants: &[
            "Single", "2 Pack", "4 Pack", "12 Count", "24 Count", "Bulk Size", "Refill",
        ],
    },
    Category {
        name: "Health & Beauty",
        weight: 8,
        price_cents: (199, 5_999),
        brands: &["Glow Lab", "Cymbal Care", "Vita Plus", "Silk & Stone"],
        items: &[
            "Shampoo", "Toothpaste", "Sunscreen", "Moisturizer", "Vitamins", "Body Wash",
            "Deodorant", "Lip Balm", "Razor", "Face Wash",
        ],
        variants: &[
            "2 fl oz", "8 fl oz", "16 fl oz", "Travel Size", "Twin Pack", "60 Count", "120 Count",
        ],
    },
    Category {
        name: "Electronics",
        weight: 7,
        price_cents: (999, 149_999),
        brands: &["Voltix", "Cymbal Tech", "Nimbus", "Aurora Audio", "Pixelon"],
        items: &[
            "Headphones", "Bluetooth Speaker", "Smartwatch", "Tablet", "Laptop", "Television",
            "Phone Charger", "Webcam", "Keyboard", "Game Console", "Camera", "Router",
        ],
        variants: &[
            "Black", "White", "Silver", "Blue", "2nd Gen", "3rd Gen", "Bundle",
        ],
    },
    Category {
        name: "Apparel",
        weight: 9,
        price_cents: (499, 14_999),
        brands: &[
            "Northbound", "Cymbal Wear", "Urban Thread", "Trailhead", "Lumen",
        ],
        items: &[
            "T-Shirt", "Jeans", "Hoodie", "Rain Jacket", "Sneakers", "Socks", "Dress", "Sweater",
            "Leggings", "Baseball Cap", "Scarf", "Boots",
        ],
        variants: &["XS", "Small", "Medium", "Large", "XL", "XXL", "Kids"],
    },
    Category {
        name: "Home",
        weight: 8,
        price_cents: (499, 49_999),
        brands: &["Hearth & Oak", "Cymbal Living", "Nordlys", "Casa Bella"],
        items: &[
            "Bath Towel", "Bed Sheets", "Throw Pillow", "Table Lamp", "Cookware Set",
            "Coffee Maker", "Blender", "Area Rug", "Dinnerware Set", "Desk Chair", "Mirror",
        ],
        variants: &[
            "Twin", "Full", "Queen", "King", "Set of 2", "Set of 4", "Grey",
        ],
    },
    Category {
        name: "Toys",
        weight: 6,
        price_cents: (299, 19_999),
        brands: &["Playwell", "Cymbal Kids", "BrickWorks", "Starlight Games"],
        items: &[
            "Building Set", "Board Game", "Puzzle", "Plush Bear", "Action Figure", "Doll House",
            "Remote Control Car", "Art Kit", "Card Game", "Science Kit",
        ],
        variants: &[
            "Ages 3+", "Ages 5+", "Ages 8+", "Ages 12+", "Deluxe Edition", "Travel Edition",
            "Collector Edition",
        ],
    },
    Category {
        name: "Sports & Outdoors",
        weight: 5,
        price_cents: (499, 59_999),
        brands: &["Summit Gear", "Cymbal Active", "Riverstone", "Apex Motion"],
        items: &[
            "Yoga Mat", "Tent", "Water Bottle", "Dumbbells", "Bicycle Helmet", "Backpack",
            "Running Shoes", "Camping Stove", "Fishing Rod", "Basketball",
        ],
        variants: &["Small", "Medium", "Large", "Red", "Black", "Green", "Kids"],
    },
    Category {
        name: "Pet Supplies",
        weight: 5,
        price_cents: (199, 7_999),
        brands: &["Happy Paws", "Cymbal Pet", "Whisker & Wag", "TrueNature"],
        items: &[
            "Dog Food", "Cat Food", "Cat Litter", "Dog Treats", "Chew Toy", "Pet Bed", "Leash",
            "Fish Flakes", "Bird Seed", "Grooming Brush",
        ],
        variants: &["3 lb", "7 lb", "15 lb", "30 lb", "Small", "Medium", "Large"],
    },
];

/// Payment types (index = code used in the fact chunk writer).
pub(crate) const PAYMENT_TYPES: [&str; 4] = ["card", "cash", "mobile", "gift_card"];

/// Sales channels (index = code used in the fact chunk writer).
pub(crate) const CHANNELS: [&str; 2] = ["store", "online"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_large_enough() {
        assert!(
            CITIES.len() * NEIGHBORHOODS.len() >= 1_000,
            "need 1,000 distinct stores"
        );
        assert_eq!(CATEGORIES.len(), 12);
        for category in CATEGORIES {
            assert!(!category.brands.is_empty() && !category.items.is_empty());
            assert!(!category.variants.is_empty());
            assert!(0 < category.price_cents.0 && category.price_cents.0 < category.price_cents.1);
        }
        for name in FIRST_NAMES.iter().chain(LAST_NAMES) {
            assert!(name.bytes().all(|b| b.is_ascii_alphabetic()), "{name}");
        }
    }
}
