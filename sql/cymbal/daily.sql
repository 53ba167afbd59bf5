-- Cymbal Superstore: the daily sales pipeline for one day, ${run_date}.
--
--   spate run sql/cymbal/daily.sql --data testdata/cymbal --param run_date=2026-11-23
--
-- Reads the tables of the data directory (transactions, partitioned by day; stores;
-- customers; products), prints the day's sales per store and category and its top
-- customers, and writes the full report and the customers' invoices into the warehouse:
-- Delta Lake tables daily_sales, invoices and invoice_lines under ./warehouse/ (or
-- --param warehouse=URL, any path or object-store URL), partitioned by date. Each table
-- gets one atomic commit per run; re-running a day replaces exactly that day. With
-- --param warehouse=bigquery://PROJECT/DATASET the same statements write BigQuery tables
-- (a COPY to bigquery:// writes BigQuery whatever STORED AS says), also replacing the day.

-- Every line sold that day, with its product, store and money columns. Discounts are a
-- fraction of the gross amount; tax is the store's rate on the discounted amount.
CREATE VIEW sales_lines AS
SELECT
    t.transaction_id,
    t.ts,
    t.store_id,
    s.store_name,
    s.region,
    t.customer_id,
    t.product_id,
    p.product_name,
    p.category,
    t.quantity,
    t.unit_price,
    t.discount,
    t.payment_type,
    t.channel,
    CAST(t.quantity * t.unit_price AS DECIMAL(14, 2)) AS gross_amount,
    CAST(ROUND(t.quantity * t.unit_price * t.discount, 2) AS DECIMAL(14, 2)) AS discount_amount,
    s.tax_rate
FROM transactions t
JOIN products p ON p.product_id = t.product_id
JOIN stores s ON s.store_id = t.store_id
WHERE t.day = DATE '${run_date}';

CREATE VIEW daily_sales AS
SELECT
    DATE '${run_date}' AS sales_date,
    store_id,
    store_name,
    region,
    category,
    COUNT(*) AS lines,
    COUNT(DISTINCT customer_id) AS customers,
    SUM(quantity) AS units,
    SUM(gross_amount) AS gross_sales,
    SUM(discount_amount) AS discounts,
    SUM(gross_amount - discount_amount) AS net_sales
FROM sales_lines
GROUP BY store_id, store_name, region, category;

-- One invoice line per item bought, with its total after discount and tax.
CREATE VIEW invoice_lines AS
SELECT
    'INV-' || REPLACE('${run_date}', '-', '') || '-' || LPAD(CAST(l.customer_id AS VARCHAR), 8, '0') AS invoice_number,
    DATE '${run_date}' AS invoice_date,
    l.customer_id,
    c.first_name || ' ' || c.last_name AS customer_name,
    c.email,
    l.transaction_id,
    l.ts,
    l.store_name,
    l.product_name,
    l.category,
    l.quantity,
    l.unit_price,
    l.gross_amount,
    l.discount_amount,
    CAST(ROUND((l.gross_amount - l.discount_amount) * l.tax_rate, 2) AS DECIMAL(14, 2)) AS tax_amount
FROM sales_lines l
JOIN customers c ON c.customer_id = l.customer_id;

CREATE VIEW invoices AS
SELECT
    invoice_number,
    DATE '${run_date}' AS invoice_date,
    customer_id,
    customer_name,
    email,
    COUNT(*) AS lines,
    SUM(gross_amount) AS subtotal,
    SUM(discount_amount) AS discounts,
    SUM(tax_amount) AS tax,
    SUM(gross_amount - discount_amount + tax_amount) AS total
FROM invoice_lines
GROUP BY invoice_number, customer_id, customer_name, email;

-- The day's report: the best-selling store and category pairs.
SELECT store_name, region, category, lines, units, gross_sales, discounts, net_sales
FROM daily_sales
ORDER BY net_sales DESC, store_name, category
LIMIT 15;

-- The day's top customers by amount invoiced.
SELECT invoice_number, customer_name, lines, subtotal, discounts, tax, total
FROM invoices
ORDER BY total DESC, invoice_number
LIMIT 10;

-- The full report and the invoices, for the warehouse. 'partitionOverwriteMode' 'dynamic'
-- replaces only the partitions written: this day's.
COPY (SELECT * FROM daily_sales ORDER BY store_id, category)
TO '${warehouse:-./warehouse}/daily_sales' STORED AS DELTA PARTITIONED BY (sales_date)
OPTIONS ('mode' 'overwrite', 'partitionOverwriteMode' 'dynamic');

COPY (SELECT * FROM invoices ORDER BY invoice_number)
TO '${warehouse:-./warehouse}/invoices' STORED AS DELTA PARTITIONED BY (invoice_date)
OPTIONS ('mode' 'overwrite', 'partitionOverwriteMode' 'dynamic');

COPY (SELECT * FROM invoice_lines ORDER BY invoice_number, transaction_id)
TO '${warehouse:-./warehouse}/invoice_lines' STORED AS DELTA PARTITIONED BY (invoice_date)
OPTIONS ('mode' 'overwrite', 'partitionOverwriteMode' 'dynamic');
