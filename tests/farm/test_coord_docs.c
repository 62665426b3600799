/* test_coord_docs.c - every coordinator setting is documented: each row of the config table must
 * appear as a row of docs/configuration.md. Fails
 * when a setting is added without its documentation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "test_util.h"

int main(void) {
  FILE *f = fopen(STRIKE_DOCS_DIR "/configuration.md", "r");
  CHECK(f != NULL);
  if (!f) return test_report("farm_coord_docs");
  static char text[1 << 20];
  size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = '\0';
  fclose(f);
  for (size_t i = 0; i < coord_config_table_len; i++) {
    char row[160];
    snprintf(row, sizeof row, "| `%s` |", coord_config_table[i].name);
    CHECK_MSG(strstr(text, row) != NULL, "docs/configuration.md lacks the setting %s",
              coord_config_table[i].name);
  }
  return test_report("farm_coord_docs");
}
