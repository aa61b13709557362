"""Table models as Spark schemas: the final ``select`` of every output is its contract."""

from __future__ import annotations

from pydantic import BaseModel

from schemas.arrow import arrow_schema


def spark_schema(model: type[BaseModel]):
    """The Spark StructType of a table model (timestamps are UTC instants)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(arrow_schema(model), prefer_timestamp_ntz=False)


def relaxed(data_type):
    """``data_type`` with every nested field nullable: Spark will not cast to NOT NULL
    inside arrays and structs, and writes every column as nullable anyway."""
    from pyspark.sql.types import ArrayType, MapType, StructField, StructType

    if isinstance(data_type, StructType):
        return StructType([StructField(f.name, relaxed(f.dataType), True) for f in data_type.fields])
    if isinstance(data_type, ArrayType):
        return ArrayType(relaxed(data_type.elementType), True)
    if isinstance(data_type, MapType):
        return MapType(relaxed(data_type.keyType), relaxed(data_type.valueType), True)
    return data_type


def conform(df, model: type[BaseModel]):
    """Select exactly the model's columns, in its order, cast to its types.

    A column the model marks optional may be missing (it becomes null); a required
    one that is missing is a programming error and fails loudly.
    """
    from pyspark.sql import functions as F

    columns = []
    for field in spark_schema(model).fields:
        if field.name in df.columns:
            columns.append(F.col(field.name).cast(relaxed(field.dataType)).alias(field.name))
        elif field.nullable:
            columns.append(F.lit(None).cast(field.dataType).alias(field.name))
        else:
            raise KeyError(f"{model.__name__}: required column '{field.name}' is missing")
    return df.select(*columns)
