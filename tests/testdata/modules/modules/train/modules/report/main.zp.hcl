variable "folder" {}
variable "label" {}

resource "local_file" "summary" {
  path    = "${var.folder}/README.txt"
  content = "results of ${var.label}"
}

output "path" {
  value = resource.local_file.summary.path
}
