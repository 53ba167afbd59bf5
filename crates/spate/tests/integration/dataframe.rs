//! The Spark-style DataFrame API, each transformation checked against known rows.

use spate::JoinType;
use spate::prelude::*;

use super::common::*;

async fn orders(session: &Session) -> DataFrame {
    session
        .sql(
            "select * from (values (1, 'ada', 10.0), (2, 'alan', 5.0), (3, 'ada', 2.5), (4, NULL, 1.0)) \
             t(order_id, customer, amount)",
        )
        .await
        .unwrap()
}

async fn customers(session: &Session) -> DataFrame {
    session
        .sql("select * from (values ('ada', 'London'), ('grace', 'NYC')) t(customer, city)")
        .await
        .unwrap()
}

async fn lines(df: DataFrame) -> Vec<String> {
    rows(&df.collect().await.unwrap())
}

#[tokio::test]
async fn select_filter_with_column_rename_drop() {
    let session = session();
    let df = orders(&session)
        .await
        .filter(col("amount").gt(lit(2.0)))
        .unwrap()
        .with_column("double", col("amount") * lit(2.0))
        .unwrap()
        .with_column_renamed("customer", "buyer")
        .unwrap()
        .drop(&["amount"])
        .unwrap()
        .order_by(vec![asc(col("order_id"))])
        .unwrap();
    let names: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["order_id", "buyer", "double"]);
    assert_eq!(lines(df).await, ["1|ada|20.0", "2|alan|10.0", "3|ada|5.0"]);
    let selected = orders(&session)
        .await
        .select(vec![
            col("order_id"),
            (col("amount") + lit(1.0)).alias("plus"),
        ])
        .unwrap()
        .limit(1)
        .unwrap();
    assert_eq!(lines(selected).await, ["1|11.0"]);
}

#[tokio::test]
async fn group_by_agg_order_by() {
    let session = session();
    let df = orders(&session)
        .await
        .group_by(vec![col("customer")])
        .agg(vec![
            sum(col("amount")).alias("total"),
            count(lit(1)).alias("n"),
        ])
        .unwrap()
        .order_by(vec![desc(col("total"))])
        .unwrap();
    assert_eq!(lines(df).await, ["ada|12.5|2", "alan|5.0|1", "NULL|1.0|1"]);
}

#[tokio::test]
async fn joins_of_every_kind() {
    let session = session();
    let cases = [
        (JoinType::Inner, 2),
        (JoinType::Left, 4),
        (JoinType::Right, 3),
        (JoinType::Full, 5),
        (JoinType::Semi, 2),
        (JoinType::Anti, 2),
    ];
    for (how, expected) in cases {
        let joined = orders(&session)
            .await
            .join(&customers(&session).await, &["customer"], how)
            .unwrap();
        assert_eq!(joined.count().await.unwrap(), expected, "{how:?}");
    }
    let inner = orders(&session)
        .await
        .join(&customers(&session).await, &["customer"], JoinType::Inner)
        .unwrap()
        .select(vec![col("order_id"), col("customer"), col("city")])
        .unwrap()
        .order_by(vec![asc(col("order_id"))])
        .unwrap();
    assert_eq!(lines(inner).await, ["1|ada|London", "3|ada|London"]);
}

#[tokio::test]
async fn distinct_union_count_schema_explain() {
    let session = session();
    let names = orders(&session)
        .await
        .select(vec![col("customer")])
        .unwrap();
    let twice = names.clone().union(&names).unwrap();
    assert_eq!(twice.clone().count().await.unwrap(), 8);
    assert_eq!(twice.distinct().unwrap().count().await.unwrap(), 3);
    assert_eq!(names.schema().field(0).name(), "customer");
    let plan = names.explain().await.unwrap();
    assert!(
        plan.contains("logical_plan") && plan.contains("physical_plan"),
        "{plan}"
    );
}

#[tokio::test]
async fn show_prints_without_error_and_sql_rejects_two_statements() {
    let session = session();
    orders(&session).await.show(2).await.unwrap();
    let err = session.sql("select 1; select 2").await.unwrap_err();
    assert!(
        err.to_string().contains("expected one statement, found 2"),
        "{err}"
    );
}

#[tokio::test]
async fn join_keys_appear_once_with_spark_values() {
    let session = session();
    let left = session
        .sql("select * from (values (1, 'l1'), (2, 'l2')) t(k, lv)")
        .await
        .unwrap();
    let right = session
        .sql("select * from (values (2, 'r2'), (3, 'r3')) t(k, rv)")
        .await
        .unwrap();
    let full = left
        .clone()
        .join(&right, &["k"], JoinType::Full)
        .unwrap()
        .order_by(vec![asc(col("k"))])
        .unwrap();
    let names: Vec<String> = full
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["k", "lv", "rv"]);
    assert_eq!(lines(full).await, ["1|l1|NULL", "2|l2|r2", "3|NULL|r3"]);
    let right_join = left
        .join(&right, &["k"], JoinType::Right)
        .unwrap()
        .order_by(vec![asc(col("k"))])
        .unwrap();
    assert_eq!(lines(right_join).await, ["2|l2|r2", "3|NULL|r3"]);
}
